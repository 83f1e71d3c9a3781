//! Fan-out: N members of one group, each sending at a rate; every member receives every
//! message. Measures deliveries per second and the latency from send to receipt, first against
//! the ceiling (a bare broadcast server, no storage), then against `quid serve` storing every
//! message durably, with the same generator. Also reports the database's bytes per message.

use super::{Hello, Latency, Socket, connect, now_micros};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Members of the group, all connected and all sending (at most 10,000)
    #[arg(long, default_value_t = 100)]
    members: usize,
    /// Messages per second each member sends
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Seconds measured, after a second of warm-up
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Append the results to docs/PERFORMANCE.md
    #[arg(long)]
    record: bool,
    #[command(flatten)]
    servers: super::servers::ServersArgs,
}

/// What one run measured.
struct Outcome {
    offered_per_second: f64,
    delivered_per_second: f64,
    latency: Latency,
    /// Deliveries of messages sent in the window that had not arrived when the run ended.
    missing: u64,
    /// Members whose connection the server closed (it drops one that falls too far behind).
    dropped: usize,
}

const WARM_UP: Duration = Duration::from_secs(1);
/// How long receivers keep listening after the last send.
const DRAIN: Duration = Duration::from_secs(3);

pub async fn run(args: &FanoutArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::ensure!(
        (2..=crate::store::conversations::MAX_GROUP_MEMBERS).contains(&args.members),
        "--members must be 2 to {}",
        crate::store::conversations::MAX_GROUP_MEMBERS
    );
    anyhow::ensure!(args.rate > 0.0, "--rate must be more than 0");
    println!(
        "fan-out: {} members, each sending {} msg/s, {} s measured",
        args.members, args.rate, args.seconds
    );
    let ceiling = {
        let server = super::start_ceiling()?;
        let sockets = connect_all(std::slice::from_ref(&server.addr), None, args.members).await?;
        drive(sockets, None, args).await?
    };
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("server.db");
    let servers = args.servers.open(&db)?;
    let prefix = servers.prefix("member");
    let users = super::make_users(&servers.store, &prefix, args.members)?;
    let (quid, before) = {
        let nodes = servers.start(&[])?;
        let addrs: Vec<String> = nodes.iter().map(|node| node.addr.clone()).collect();
        let tokens: Vec<String> = users.into_iter().map(|(_, token)| token).collect();
        let group = create_group(&addrs[0], &tokens[0], &prefix, args.members).await?;
        // From here on the file grows by the messages alone, not by the group's making.
        let before = (!servers.is_postgres())
            .then(|| checkpointed_bytes(&db))
            .transpose()?;
        let sockets = connect_all(&addrs, Some(&tokens), args.members).await?;
        (drive(sockets, Some(group), args).await?, before)
    };
    // Bytes per message are the SQLite file's growth; PostgreSQL's are not measured.
    let bytes_per_message = match before {
        Some(before) => {
            let grown = checkpointed_bytes(&db)?.saturating_sub(before);
            Some(grown as f64 / stored_messages(&db)?.max(1) as f64)
        }
        None => None,
    };
    let table = table(
        args,
        &servers.describe(),
        &ceiling,
        &quid,
        bytes_per_message,
    );
    super::report("quid bench fanout", &table, args.record)?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn table(
    args: &FanoutArgs,
    servers: &str,
    ceiling: &Outcome,
    quid: &Outcome,
    bytes_per_message: Option<f64>,
) -> String {
    let row = |name: &str, o: &Outcome| {
        format!(
            "| {name} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {} |",
            o.offered_per_second,
            o.delivered_per_second,
            o.latency.p50_ms,
            o.latency.p99_ms,
            o.latency.max_ms,
            o.missing
        )
    };
    let throughput = quid.delivered_per_second / ceiling.delivered_per_second.max(1.0);
    let p99 = quid.latency.p99_ms / ceiling.latency.p99_ms.max(0.001);
    let verdict = if throughput >= 0.95 && p99 <= 3.0 {
        "goal met"
    } else {
        "goal not met"
    };
    let on_disk = match bytes_per_message {
        Some(bytes) => format!("; {bytes:.0} bytes on disk per message"),
        None => String::new(),
    };
    let dropped = match quid.dropped {
        0 => String::new(),
        n => format!("; {n} connections dropped for falling behind"),
    };
    format!(
        "{} members x {} msg/s, {} s, {servers}\n\n\
         | server | offered deliveries/s | delivered/s | p50 ms | p99 ms | max ms | not delivered |\n\
         |---|---|---|---|---|---|---|\n{}\n{}\n\n\
         quid / ceiling: deliveries {throughput:.2}, p99 {p99:.2}x{on_disk}{dropped}. \
         Verdict: {verdict} (at least 0.95 of the deliveries, p99 within 3x).",
        args.members,
        args.rate,
        args.seconds,
        row("ceiling: bare broadcast, no storage", ceiling),
        row(&format!("quid serve ({servers})"), quid),
    )
}

/// Connects `members` sockets, spread over `nodes` in turn.
async fn connect_all(
    nodes: &[String],
    tokens: Option<&[String]>,
    members: usize,
) -> anyhow::Result<Vec<Socket>> {
    let mut sockets = Vec::with_capacity(members);
    for n in 0..members {
        let addr = &nodes[n % nodes.len()];
        let socket = match tokens {
            Some(tokens) => connect(addr, Some(&tokens[n]), Hello::Subscribe).await?,
            None => connect(addr, None, Hello::None).await?,
        };
        sockets.push(socket);
    }
    Ok(sockets)
}

/// Member 0 makes the group of everyone and returns its id.
async fn create_group(
    addr: &str,
    token: &str,
    prefix: &str,
    members: usize,
) -> anyhow::Result<i64> {
    let mut socket = connect(addr, Some(token), Hello::Plain).await?;
    let names: Vec<String> = (1..members).map(|n| format!("{prefix}{n}")).collect();
    let request =
        serde_json::json!({"id": 1, "type": "create_group", "name": "bench", "members": names});
    socket.send(Message::text(request.to_string())).await?;
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame? {
            let reply: serde_json::Value = serde_json::from_str(&text)?;
            if reply["id"] == 1 {
                return reply["result"]["conversation"]["id"]
                    .as_i64()
                    .ok_or_else(|| anyhow::anyhow!("create_group failed: {text}"));
            }
        }
    }
    anyhow::bail!("the server closed before creating the group")
}

/// Runs the load on `sockets`: each sends `rate` messages a second through the window while
/// every one records the latency of each message received.
async fn drive(
    sockets: Vec<Socket>,
    group: Option<i64>,
    args: &FanoutArgs,
) -> anyhow::Result<Outcome> {
    let members = sockets.len();
    let start = now_micros() + 200_000;
    let window_start = start + WARM_UP.as_micros() as u64;
    let window_end = window_start + args.seconds * 1_000_000;
    let listen_until = window_end + DRAIN.as_micros() as u64;
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    for (n, socket) in sockets.into_iter().enumerate() {
        let (sink, stream) = socket.split();
        // Spread the members' first sends over one period, as real people would be.
        let offset = (n as f64 / members as f64 / args.rate * 1e6) as u64;
        senders.push(tokio::spawn(send_loop(
            sink,
            group,
            start + offset,
            window_start..window_end,
            args.rate,
        )));
        receivers.push(tokio::spawn(receive_loop(
            stream,
            window_start..window_end,
            listen_until,
        )));
    }
    let (mut sent_in_window, mut dropped) = (0u64, 0);
    for sender in senders {
        let sent = sender.await??;
        sent_in_window += sent.in_window;
        dropped += usize::from(sent.dropped);
    }
    let mut samples = Vec::new();
    for receiver in receivers {
        samples.append(&mut receiver.await?);
    }
    let expected = sent_in_window * members as u64;
    Ok(Outcome {
        offered_per_second: members as f64 * members as f64 * args.rate,
        delivered_per_second: samples.len() as f64 / args.seconds as f64,
        missing: expected.saturating_sub(samples.len() as u64),
        dropped,
        latency: Latency::of(&mut samples),
    })
}

type Sink = futures_util::stream::SplitSink<Socket, Message>;

/// What one member sent.
struct Sent {
    /// Messages sent inside the window, each of which every member should receive.
    in_window: u64,
    /// Whether the server closed the connection before the window ended.
    dropped: bool,
}

/// Sends at `rate` from `first_micros` until the window ends, or the server closes the
/// connection.
async fn send_loop(
    mut sink: Sink,
    group: Option<i64>,
    first_micros: u64,
    window: std::ops::Range<u64>,
    rate: f64,
) -> anyhow::Result<Sent> {
    let period = Duration::from_secs_f64(1.0 / rate);
    let first = Duration::from_micros(first_micros.saturating_sub(now_micros()));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut id: u64 = 1;
    let mut in_window = 0;
    loop {
        tick.tick().await;
        let now = now_micros();
        if now >= window.end {
            let dropped = false;
            return Ok(Sent { in_window, dropped });
        }
        in_window += u64::from(window.contains(&now));
        let frame = match group {
            Some(conversation) => format!(
                r#"{{"id":{id},"type":"send","conversation_id":{conversation},"client_id":"{}","text":"t={now}"}}"#,
                uuid::Uuid::new_v4()
            ),
            None => format!(r#"{{"id":{id},"type":"send","text":"t={now}"}}"#),
        };
        if sink.send(Message::text(frame)).await.is_err() {
            let dropped = true;
            return Ok(Sent { in_window, dropped });
        }
        id += 1;
    }
}

/// Latencies (µs) of the messages sent inside `window` (µs since the epoch), as they arrive,
/// until `listen_until`.
async fn receive_loop(
    mut stream: futures_util::stream::SplitStream<Socket>,
    window: std::ops::Range<u64>,
    listen_until: u64,
) -> Vec<u64> {
    let mut samples = Vec::new();
    loop {
        let left = Duration::from_micros(listen_until.saturating_sub(now_micros()));
        let frame = match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            Ok(_) | Err(_) => return samples,
        };
        let received = now_micros();
        // quid's reply to a send carries the message too; only deliveries count.
        if frame.starts_with(r#"{"type":"ok""#) {
            continue;
        }
        if let Some(sent) = sent_at(&frame)
            && window.contains(&sent)
        {
            samples.push(received.saturating_sub(sent));
        }
    }
}

/// The send time a message frame carries in its text (`"text":"t=MICROS"`).
fn sent_at(frame: &str) -> Option<u64> {
    let start = frame.find(r#""text":"t="#)? + r#""text":"t="#.len();
    let digits = &frame[start..];
    let end = digits.find('"')?;
    digits[..end].parse().ok()
}

/// The database file's size once its write-ahead log is copied into it and emptied: what the
/// data costs on disk. The log itself is a fixed-size ring SQLite reuses (up to the writer's
/// checkpoint threshold), not a cost per message.
fn checkpointed_bytes(db: &std::path::Path) -> anyhow::Result<u64> {
    let store = crate::store::Store::open_sqlite(db)?;
    let conn = store.connect()?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(std::fs::metadata(db)?.len())
}

fn stored_messages(db: &std::path::Path) -> anyhow::Result<u64> {
    let store = crate::store::Store::open_sqlite(db)?;
    let conn = store.connect()?;
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM messages", [], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_time_is_read_from_either_server_s_frame() {
        let quid = r#"{"type":"conversation_event","conversation_id":1,"pos":3,"event":{"kind":"message","message":{"id":1,"text":"t=1700000000123456","sent_at":1}}}"#;
        assert_eq!(sent_at(quid), Some(1_700_000_000_123_456));
        let ceiling = r#"{"id":4,"type":"send","text":"t=42"}"#;
        assert_eq!(sent_at(ceiling), Some(42));
        assert_eq!(sent_at(r#"{"type":"ok","id":4}"#), None);
    }
}
