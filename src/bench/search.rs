//! Search: a store of N messages (a million by default) in 1,000 groups, the searcher a member
//! of one in ten, words drawn from a 20,000-word vocabulary with Zipf's law (as words are in
//! text: the commonest in more than half the messages). Measures `search` through the server
//! for a common, a medium and a rare word, two words, a phrase and a prefix, against a
//! `history` page of 50 messages through the same server in the same run (the baseline: the
//! cheapest read a client makes), and checks the goal: under 100 ms at the 99th percentile.

use super::{Hello, Latency, connect, next_result};
use crate::protocol::{ClientMsgId, ConversationId, ConversationKind, TimestampMs, results};
use crate::store::messages::NewMessage;
use futures_util::SinkExt;
use std::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, clap::Args)]
pub struct SearchArgs {
    /// Messages in the store
    #[arg(long, default_value_t = 1_000_000)]
    messages: u32,
    /// Times each query is asked
    #[arg(long, default_value_t = 30)]
    repeat: u32,
    #[command(flatten)]
    servers: super::servers::ServersArgs,
    /// Append the results to docs/PERFORMANCE.md
    #[arg(long)]
    record: bool,
}

const GROUPS: usize = 1_000;
/// One group in this many has the searcher as a member.
const MEMBER_OF_ONE_IN: usize = 10;
const VOCABULARY: usize = 20_000;
/// Messages written per transaction while seeding.
const SEED_BATCH: u32 = 20_000;
const GOAL_MS: f64 = 100.0;

pub async fn run(args: &SearchArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    anyhow::ensure!(args.repeat > 0, "--repeat must be at least 1");
    let dir = tempfile::tempdir()?;
    let servers = args.servers.open(&dir.path().join("server.db"))?;
    let vocabulary = Vocabulary::new();
    let searcher = super::make_users(&servers.store, &servers.prefix("searcher"), 1)?.remove(0);
    let sender = super::make_users(&servers.store, &servers.prefix("sender"), 1)?.remove(0);
    let seeding = Instant::now();
    let groups = seed(
        &servers.store,
        &vocabulary,
        searcher.0,
        sender.0,
        args.messages,
    )?;
    println!(
        "seeded {} messages in {:.0} s",
        args.messages,
        seeding.elapsed().as_secs_f64()
    );
    let nodes = servers.start(&[])?;
    let mut socket = connect(&nodes[0].addr, Some(&searcher.1), Hello::Plain).await?;

    let history = format!(
        r#"{{"id":1,"type":"history","conversation_id":{},"limit":50}}"#,
        groups[0].0
    );
    let baseline = measure::<results::History>(&mut socket, &history, args.repeat).await?;
    let mut rows = Vec::new();
    for (what, query) in vocabulary.queries() {
        let frame = serde_json::json!({"id": 1, "type": "search", "query": query, "limit": 20});
        let (latency, hits) = measure_search(&mut socket, &frame.to_string(), args.repeat).await?;
        rows.push((what, query, latency, hits));
    }
    let table = table(args, &servers.describe(), baseline, &rows);
    super::report("quid bench search", &table, args.record)?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn table(
    args: &SearchArgs,
    backend: &str,
    baseline: Latency,
    rows: &[(&str, String, Latency, usize)],
) -> String {
    let worst = rows.iter().map(|r| r.2.p99_ms).fold(0.0, f64::max);
    let verdict = match worst < GOAL_MS {
        true => "goal met",
        false => "goal not met",
    };
    let mut table = format!(
        "{} messages in {GROUPS} groups, the searcher in {} of them; {backend}; each query \
         asked {} times\n\n\
         | query | hits | p50 ms | p99 ms | p50 / baseline p50 |\n|---|---|---|---|---|\n\
         | baseline: history, 50 messages | 50 | {:.2} | {:.2} | 1.0 |\n",
        args.messages,
        GROUPS / MEMBER_OF_ONE_IN,
        args.repeat,
        baseline.p50_ms,
        baseline.p99_ms,
    );
    for (what, query, latency, hits) in rows {
        table.push_str(&format!(
            "| {what}: `{query}` | {hits} | {:.2} | {:.2} | {:.1} |\n",
            latency.p50_ms,
            latency.p99_ms,
            latency.p50_ms / baseline.p50_ms.max(1e-9),
        ));
    }
    table.push_str(&format!(
        "\nWorst p99: {worst:.1} ms. Verdict: {verdict} (under {GOAL_MS:.0} ms)."
    ));
    table
}

/// Asks `frame` `repeat` times, one at a time; the latencies.
async fn measure<T: serde::de::DeserializeOwned>(
    socket: &mut super::Socket,
    frame: &str,
    repeat: u32,
) -> anyhow::Result<Latency> {
    let mut samples = Vec::with_capacity(repeat as usize);
    for _ in 0..repeat {
        let started = Instant::now();
        socket.send(Message::text(frame)).await?;
        let _: T = next_result(socket).await?;
        samples.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    Ok(Latency::of(&mut samples))
}

/// As `measure`, for a search; also how many hits it found.
async fn measure_search(
    socket: &mut super::Socket,
    frame: &str,
    repeat: u32,
) -> anyhow::Result<(Latency, usize)> {
    socket.send(Message::text(frame)).await?;
    let found: results::Search = next_result(socket).await?;
    let latency = measure::<results::Search>(socket, frame, repeat).await?;
    Ok((latency, found.hits.len()))
}

/// Fills the store: `GROUPS` groups (the searcher in one in ten), then `count` messages from
/// `sender` spread over them, in transactions of `SEED_BATCH`. The groups' ids.
fn seed(
    store: &crate::store::Store,
    vocabulary: &Vocabulary,
    searcher: crate::protocol::UserId,
    sender: crate::protocol::UserId,
    count: u32,
) -> anyhow::Result<Vec<ConversationId>> {
    let failed = |e: crate::protocol::ApiError| anyhow::anyhow!("cannot seed: {}", e.message);
    let groups = super::servers::blocking(|| {
        store.write_once(|ctx| {
            (0..GROUPS)
                .map(|n| {
                    let at = TimestampMs(0);
                    let id = ctx.db().insert_conversation(
                        ConversationKind::Group,
                        &format!("g{n}"),
                        at,
                    )?;
                    if n % MEMBER_OF_ONE_IN == 0 {
                        ctx.db().insert_member(id, searcher)?;
                    }
                    Ok(id)
                })
                .collect::<Result<Vec<_>, _>>()
        })
    })
    .map_err(failed)?;
    let mut written = 0;
    while written < count {
        let batch = SEED_BATCH.min(count - written);
        super::servers::blocking(|| {
            store.write_once(|ctx| {
                for n in written..written + batch {
                    let text = vocabulary.message(n);
                    let message = NewMessage {
                        conversation_id: groups[n as usize % GROUPS],
                        sender,
                        client_id: ClientMsgId::random(),
                        text: &text,
                        card: None,
                        reply_to: None,
                        sealed: None,
                        expires_at: None,
                        file: None,
                    };
                    ctx.db()
                        .insert_message(&message, TimestampMs(i64::from(n)))?;
                }
                Ok(())
            })
        })
        .map_err(failed)?;
        written += batch;
    }
    Ok(groups)
}

/// Made-up words, their frequencies following Zipf's law, and the messages drawn from them.
struct Vocabulary {
    words: Vec<String>,
    /// Cumulative weights, for drawing a word by rank.
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn new() -> Vocabulary {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "ru", "sen", "ta", "vo", "pe", "li", "dan", "or", "ex", "qui", "na",
            "bel", "tor", "fa", "gi", "hu", "jam", "zo", "wen", "yo", "cra",
        ];
        let words = (0..VOCABULARY)
            .map(|rank| {
                let (mut n, mut word) = (rank, String::new());
                loop {
                    word.push_str(SYLLABLES[n % SYLLABLES.len()]);
                    n /= SYLLABLES.len();
                    if n == 0 {
                        break;
                    }
                }
                word
            })
            .collect();
        let mut total = 0.0;
        let cumulative = (1..=VOCABULARY)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    /// Message `n`: 3 to 20 words, the same for the same `n` (a cheap hash drives the draws).
    fn message(&self, n: u32) -> String {
        let mut state = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let length = 3 + next() % 18;
        let total = self.cumulative[VOCABULARY - 1];
        let words: Vec<&str> = (0..length)
            .map(|_| {
                let point = (next() >> 11) as f64 / (1u64 << 53) as f64 * total;
                let rank = self.cumulative.partition_point(|&c| c < point);
                self.words[rank.min(VOCABULARY - 1)].as_str()
            })
            .collect();
        words.join(" ")
    }

    /// What is searched for: a word at several ranks, two words, a phrase, a prefix.
    fn queries(&self) -> Vec<(&'static str, String)> {
        let word = |rank: usize| self.words[rank].clone();
        vec![
            ("the commonest word", word(0)),
            ("a word of rank 100", word(100)),
            ("a rare word (rank 15,000)", word(15_000)),
            ("two words", format!("{} {}", word(3), word(40))),
            ("a phrase", format!("\"{} {}\"", word(0), word(1))),
            ("a prefix", format!("{}*", &word(600)[..4])),
        ]
    }
}
