//! Memory. The server: resident memory per idle logged-in connection (each said `hello` with
//! `resume_after`, as the TUI does), at 1,000 connections and on up to 10,000 or as many as
//! the open-file limit allows, against a bare tokio-tungstenite server (the fan-out ceiling,
//! crate defaults) holding the same number of idle websockets. The client: the resident memory
//! of the TUI's state with 100,000 messages loaded in pages as from the server, against the
//! size of those pages on the wire.

use super::{Hello, ServerChild, connect};
use crate::protocol::{ConversationId, MessageId, results};
use crate::tui::state::{Done, HISTORY_PAGE, Msg};
use anyhow::{Context, anyhow};

#[derive(Debug, Clone, clap::Args)]
pub struct MemoryArgs {
    /// Idle connections to hold at most (fewer if the open-file limit is lower)
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Messages loaded into the client's open conversation
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// Append the results to docs/PERFORMANCE.md
    #[arg(long)]
    record: bool,
}

/// Under this many KiB per idle connection is the goal.
const GOAL_KIB_PER_CONNECTION: f64 = 20.0;
/// Descriptors kept for everything but the connections (database, log, listener, ...).
const SPARE_DESCRIPTORS: usize = 256;

pub async fn run(args: &MemoryArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    // The client first, while this process holds nothing else.
    let client = client_memory(args.messages)?;
    let most = args
        .connections
        .min(open_file_limit()?.saturating_sub(SPARE_DESCRIPTORS));
    anyhow::ensure!(
        most > 0,
        "the open-file limit leaves no room for connections"
    );
    let steps = steps_up_to(most);
    let bare = idle_memory(&super::start_ceiling()?, None, &steps).await?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("server.db");
    let (_, token) =
        super::make_users(&*crate::store::Store::open_sqlite(&db)?, "idle", 1)?.remove(0);
    let quid = idle_memory(&super::start_quid(&db, &[])?, Some(&token), &steps).await?;

    let rows: Vec<String> = steps
        .iter()
        .zip(bare.iter().zip(&quid))
        .map(|(n, (bare, quid))| format!("| {n} | {bare:.1} | {quid:.1} | {:.2} |", quid / bare))
        .collect();
    let worst = quid.iter().copied().fold(0.0, f64::max);
    let verdict = if worst < GOAL_KIB_PER_CONNECTION {
        "goal met"
    } else {
        "goal not met"
    };
    let capped = if most < args.connections {
        format!(" (the open-file limit allows {most})")
    } else {
        String::new()
    };
    let table = format!(
        "server: idle logged-in connections, up to {most}{capped}\n\n\
         | idle connections | bare tokio-tungstenite KiB each | quid serve KiB each | quid / bare |\n\
         |---|---|---|---|\n{}\n\n\
         Worst {worst:.1} KiB per connection. Verdict: {verdict} (under 20 KiB).\n\n\
         client: the TUI's state with {} messages in the open conversation, loaded in pages of {HISTORY_PAGE}\n\n\
         | what | KiB | bytes per message |\n|---|---|---|\n\
         | baseline: the pages on the wire (JSON) | {:.0} | {:.0} |\n\
         | the TUI's resident memory | {:.0} | {:.0} |\n\n\
         resident / wire: {:.2}.",
        rows.join("\n"),
        args.messages,
        client.wire_bytes as f64 / 1024.0,
        client.wire_bytes as f64 / args.messages as f64,
        client.resident_kib,
        client.resident_kib * 1024.0 / args.messages as f64,
        client.resident_kib * 1024.0 / client.wire_bytes as f64,
    );
    super::report("quid bench memory", &table, args.record)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// 1,000, 5,000, 10,000, ... up to `most`, and `most` itself.
fn steps_up_to(most: usize) -> Vec<usize> {
    let mut steps: Vec<usize> = [1_000, 5_000, 10_000, 20_000, 50_000]
        .into_iter()
        .filter(|&n| n < most)
        .collect();
    steps.push(most);
    steps
}

/// Opens idle connections to `server` up to each step and returns the server's growth in
/// resident memory per connection at each, in KiB.
async fn idle_memory(
    server: &ServerChild,
    token: Option<&str>,
    steps: &[usize],
) -> anyhow::Result<Vec<f64>> {
    let hello = if token.is_some() {
        Hello::Subscribe
    } else {
        Hello::None
    };
    let before = resident_kib(server.pid())?;
    let mut open = Vec::new();
    let mut per_connection = Vec::new();
    for &step in steps {
        while open.len() < step {
            let socket = connect(&server.addr, token, hello)
                .await
                .with_context(|| format!("connection {} of {step}", open.len() + 1))?;
            open.push(socket);
        }
        let grown = resident_kib(server.pid())? - before;
        per_connection.push(grown / step as f64);
    }
    Ok(per_connection)
}

struct ClientMemory {
    resident_kib: f64,
    wire_bytes: usize,
}

/// This process's growth in resident memory while the TUI's state loads `count` messages,
/// newest page first, each page parsed from JSON as the session would.
fn client_memory(count: usize) -> anyhow::Result<ClientMemory> {
    let page = HISTORY_PAGE as usize;
    let before = resident_kib(std::process::id())?;
    let mut app = super::tui::app_with_conversation(80, 24, count);
    let mut wire_bytes = 0;
    let mut newest = count;
    while newest > 0 {
        let oldest = newest.saturating_sub(page - 1).max(1);
        let json = serde_json::to_string(&results::History {
            messages: super::tui::messages(oldest..=newest),
            has_more: oldest > 1,
            others_read_up_to: None,
        })?;
        wire_bytes += json.len();
        app.update(Msg::Done(Done::History {
            conversation_id: ConversationId(1),
            before: (newest < count).then(|| MessageId(newest as i64 + 1)),
            page: serde_json::from_str(&json)?,
        }));
        newest = oldest - 1;
    }
    let resident_kib = resident_kib(std::process::id())? - before;
    let held = app
        .timelines
        .get(&ConversationId(1))
        .map_or(0, |t| t.entries.len());
    anyhow::ensure!(
        held == count,
        "the timeline holds {held} of {count} messages"
    );
    Ok(ClientMemory {
        resident_kib,
        wire_bytes,
    })
}

/// Resident memory of process `pid`, in KiB.
pub(super) fn resident_kib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read the memory of process {pid}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in /proc/{pid}/status"))
}

/// This process's soft limit on open files, which the servers it starts inherit.
fn open_file_limit() -> anyhow::Result<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .ok_or_else(|| anyhow!("no open-file limit in /proc/self/limits"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()
        .unwrap_or("unlimited");
    Ok(soft.parse().unwrap_or(usize::MAX))
}
