//! `quid bench`: load generators that measure the server against a ceiling or a baseline
//! measured in the same run, on the same machine, and print a table and a one-line verdict.
//! The server under test is a real `quid serve` child process on a temporary database, so the
//! generator and the server compete for the machine as they would in production.
//!
//! Each benchmark lives in its own file; this one holds what they share: the child server,
//! accounts made straight in the database (no password hashing, no brute-force limits), raw
//! websocket clients, percentiles, and `--record`, which appends the table to
//! docs/PERFORMANCE.md.

mod catchup;
mod ceiling;
mod fanout;
mod files;
mod memory;
mod payments;
mod search;
mod servers;
mod tui;

use crate::protocol::UserId;
use anyhow::{Context, anyhow};
use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, clap::Subcommand)]
enum Bench {
    /// One group, every member sending at a rate: deliveries/s and latency, against a bare
    /// tokio-tungstenite broadcast server with no storage (the ceiling)
    Fanout(fanout::FanoutArgs),
    /// Clients paying each other in a closed loop: transfers/s and latency, against one SQLite
    /// transaction with a full sync per double-entry transfer (the baseline)
    Payments(payments::PaymentsArgs),
    /// A client back after N messages arrived: session start to caught up in the TUI's state,
    /// against reading the same events straight from the database
    Catchup(catchup::CatchupArgs),
    /// The TUI: one key handled and one frame drawn, with up to a million messages in the
    /// open conversation, against the same with a thousand
    Tui(tui::TuiArgs),
    /// Full-text search over a million stored messages: p50 and p99 of each kind of query,
    /// against a history page through the same server (the baseline) and the 100 ms goal
    Search(search::SearchArgs),
    /// Server memory per idle connection (up to 10,000) against bare tokio-tungstenite, and
    /// the TUI's memory with 100,000 messages loaded against their size on the wire
    Memory(memory::MemoryArgs),
    /// A file up and down through the server, against copying it over bare HTTP on
    /// loopback; and the server's memory during concurrent uploads
    Files(files::FilesArgs),
    /// Every benchmark above with its defaults (fan-out at 10, 100 and 256 members), each in a
    /// process of its own
    All {
        /// Append every table to docs/PERFORMANCE.md
        #[arg(long)]
        record: bool,
    },
    /// The ceiling server itself (started by `fanout` and `memory`)
    #[command(hide = true)]
    CeilingServer,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<std::process::ExitCode> {
    match &args.bench {
        Bench::Fanout(args) => fanout::run(args).await,
        Bench::Payments(args) => payments::run(args).await,
        Bench::Tui(args) => tui::run(args),
        Bench::Catchup(args) => catchup::run(args).await,
        Bench::Memory(args) => memory::run(args).await,
        Bench::Search(args) => search::run(args).await,
        Bench::Files(args) => files::run(args).await,
        Bench::All { record } => run_all(*record),
        Bench::CeilingServer => ceiling::serve().await,
    }
}

/// What `quid bench all` runs: the issue's fan-out sizes, then every other benchmark.
const ALL: [&[&str]; 9] = [
    &["fanout", "--members", "10", "--rate", "10"],
    &["fanout", "--members", "100", "--rate", "10"],
    &["fanout", "--members", "256", "--rate", "1"],
    &["payments"],
    &["catchup"],
    &["tui"],
    &["memory"],
    &["search"],
    &["files"],
];

/// Runs each of `ALL` as `quid bench ...`, so that none inherits another's memory or sockets.
fn run_all(record: bool) -> anyhow::Result<std::process::ExitCode> {
    let exe = std::env::current_exe()?;
    for bench in ALL {
        println!("\n## quid bench {}\n", bench.join(" "));
        let mut command = Command::new(&exe);
        command.arg("bench").args(bench);
        if record {
            command.arg("--record");
        }
        let status = command
            .status()
            .with_context(|| format!("cannot start quid bench {}", bench.join(" ")))?;
        anyhow::ensure!(
            status.success(),
            "quid bench {} failed ({status})",
            bench.join(" ")
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// A child process serving websockets, killed when dropped.
pub(crate) struct ServerChild {
    child: Child,
    pub addr: String,
}

/// `quid serve` on a free loopback port, on `db` (a file or a URL), with `extra` arguments.
fn start_quid(db: impl AsRef<std::ffi::OsStr>, extra: &[&str]) -> anyhow::Result<ServerChild> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(["--max-connections-per-address", "100000"])
        .args(["--rate-limit", "100000", "--rate-burst", "100000"])
        .args(extra)
        .env("RUST_LOG", "error");
    start(command, "://")
}

/// The ceiling server: this binary as `quid bench ceiling-server`.
fn start_ceiling() -> anyhow::Result<ServerChild> {
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["bench", "ceiling-server"]);
    start(command, "://")
}

fn start(mut command: Command, marker: &str) -> anyhow::Result<ServerChild> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the server under test")?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .split(marker)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| anyhow!("the server said {line:?}, not where it listens"))?
        .to_owned();
    Ok(ServerChild { child, addr })
}

impl ServerChild {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes `count` users named `{prefix}{n}` with a token each, straight in the database (as
/// `quid admin create-bot` does, without the bot flag): no hashing, no login limits.
fn make_users(
    store: &crate::store::Store,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<(UserId, String)>> {
    servers::blocking(|| {
        store.write_once(|ctx| {
            (0..count)
                .map(|n| {
                    let user =
                        crate::store::accounts::create_user(ctx, &format!("{prefix}{n}"), "!")?;
                    let token = crate::server::auth::new_token();
                    let hash = crate::server::auth::token_hash(&token);
                    crate::store::sessions::insert_token(ctx, &hash, user.id)?;
                    Ok((user.id, token))
                })
                .collect()
        })
    })
    .map_err(|e| anyhow!("cannot make benchmark users: {}", e.message))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a generator's connection says first.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hello {
    /// Nothing: the ceiling server speaks no protocol.
    None,
    /// A hello without the event stream (requests only).
    Plain,
    /// A hello with `resume_after: 0`: live events, as the TUI gets them.
    Subscribe,
}

/// A raw websocket to `addr`'s `/v1`, with `token` as bearer, after the `hello`. Raw, so the
/// generator spends as little as it can.
async fn connect(addr: &str, token: Option<&str>, hello: Hello) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}/v1").into_client_request()?;
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let version = crate::protocol::PROTOCOL_VERSION;
    let hello = match hello {
        Hello::None => return Ok(socket),
        Hello::Plain => format!(r#"{{"id":0,"type":"hello","version":{version}}}"#),
        Hello::Subscribe => {
            format!(r#"{{"id":0,"type":"hello","version":{version},"resume_after":0}}"#)
        }
    };
    socket.send(Message::text(hello)).await?;
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame? {
            if text.contains(r#""type":"ok""#) && text.contains(r#""id":0"#) {
                return Ok(socket);
            }
            if text.contains(r#""type":"error""#) {
                return Err(anyhow!("hello refused: {text}"));
            }
        }
    }
    Err(anyhow!("the server closed during the hello"))
}

/// The result of the next reply on `socket` (events and other frames skipped); a refusal is
/// an error.
pub(super) async fn next_result<T: serde::de::DeserializeOwned>(
    socket: &mut Socket,
) -> anyhow::Result<T> {
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame? {
            let reply: serde_json::Value = serde_json::from_str(&text)?;
            match reply["type"].as_str() {
                Some("ok") => return Ok(serde_json::from_value(reply["result"].clone())?),
                Some("error") => anyhow::bail!("refused: {text}"),
                _ => {}
            }
        }
    }
    anyhow::bail!("the server closed the connection")
}

/// Microseconds since the Unix epoch: the clock that send and receipt share.
fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// p50, p99 and max of `samples` (microseconds), as milliseconds.
#[derive(Debug, Clone, Copy, Default)]
struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Latency {
    fn of(samples: &mut [u64]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
        Latency {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// Prints a benchmark's table and, with `--record`, appends it under a heading naming the
/// date, the machine and the commit.
fn report(what: &str, table: &str, record_it: bool) -> anyhow::Result<()> {
    println!("{table}");
    if record_it {
        record(&format!("{}\n\n{table}", run_heading(what)))?;
    }
    Ok(())
}

/// Appends `section` to docs/PERFORMANCE.md under the current directory (the clone).
fn record(section: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let path = PathBuf::from("docs/PERFORMANCE.md");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot append to {}; run from the quid clone",
                path.display()
            )
        })?;
    writeln!(file, "\n{section}")?;
    println!("recorded in {}", path.display());
    Ok(())
}

/// The heading every recorded run starts with: date, machine and commit.
fn run_heading(what: &str) -> String {
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    format!("### {what}: {date}, {cores} cores ({cpu}), commit {commit}")
}
