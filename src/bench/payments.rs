//! Payments: C clients paying each other one cent in a closed loop (one request in flight
//! each). Measures transfers per second and latency against the baseline of the same run: one
//! SQLite transaction, fully synced, per double-entry transfer, as fast as one thread can go.
//! `check-ledger` must pass on the server's database afterwards.

use super::{Hello, Latency, Socket, connect, now_micros};
use crate::protocol::UserId;
use futures_util::{SinkExt, StreamExt};
use rand::RngExt;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, clap::Args)]
pub struct PaymentsArgs {
    /// Clients paying at once
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Seconds measured, after a second of warm-up
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Append the results to docs/PERFORMANCE.md
    #[arg(long)]
    record: bool,
}

const WARM_UP: Duration = Duration::from_secs(1);

pub async fn run(args: &PaymentsArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::ensure!(args.clients >= 2, "--clients must be at least 2");
    println!(
        "payments: {} clients paying each other, {} s measured",
        args.clients, args.seconds
    );
    let dir = tempfile::tempdir()?;
    let baseline = tokio::task::spawn_blocking({
        let db = dir.path().join("baseline.db");
        let seconds = args.seconds;
        move || baseline(&db, Duration::from_secs(seconds))
    })
    .await??;

    let db = dir.path().join("server.db");
    let users = super::make_users(&db, "payer", args.clients)?;
    fund(&db, &users)?;
    let (transfers, mut latencies) = {
        let server = super::start_quid(&db, &[])?;
        load(&server.addr, &users, args).await?
    };
    let ledger_ok = ledger_is_clean(&db)?;
    let quid_rate = transfers as f64 / args.seconds as f64;
    let latency = Latency::of(&mut latencies);
    let table = table(args, baseline, quid_rate, latency, ledger_ok);
    super::report("quid bench payments", &table, args.record)?;
    Ok(if ledger_ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

fn table(
    args: &PaymentsArgs,
    baseline: f64,
    quid: f64,
    latency: Latency,
    ledger_ok: bool,
) -> String {
    let ratio = quid / baseline.max(1.0);
    let verdict = if ratio >= 5.0 && latency.p99_ms < 50.0 && ledger_ok {
        "goal met"
    } else {
        "goal not met"
    };
    format!(
        "{} clients, {} s\n\n\
         | what | transfers/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n\
         | baseline: one fully synced SQLite transaction per transfer, one thread | {baseline:.0} | | | |\n\
         | quid serve, {} clients in a closed loop | {quid:.0} | {:.1} | {:.1} | {:.1} |\n\n\
         quid / baseline: {ratio:.2}; check-ledger {}. Verdict: {verdict} (at least 5x, p99 under 50 ms, ledger clean).",
        args.clients,
        args.seconds,
        args.clients,
        latency.p50_ms,
        latency.p99_ms,
        latency.max_ms,
        if ledger_ok { "clean" } else { "BROKEN" },
    )
}

/// Transfers per second of the simplest correct double-entry ledger on SQLite with the same
/// durability as quid's (WAL, synchronous=FULL), one transaction per transfer.
fn baseline(db: &std::path::Path, run_for: Duration) -> anyhow::Result<f64> {
    let mut conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0));
         CREATE TABLE transfers (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
             from_account INTEGER NOT NULL, to_account INTEGER NOT NULL, amount INTEGER NOT NULL);
         CREATE TABLE entries (id INTEGER PRIMARY KEY, transfer_id INTEGER NOT NULL,
             account_id INTEGER NOT NULL, amount INTEGER NOT NULL);",
    )?;
    let setup = conn.transaction()?;
    for id in 1..=100 {
        setup.execute(
            "INSERT INTO accounts (id, balance) VALUES (?1, 1000000)",
            [id],
        )?;
    }
    setup.commit()?;
    let mut rng = rand::rng();
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < run_for {
        let (from, to): (i64, i64) = (rng.random_range(1..=100), rng.random_range(1..=100));
        if from == to {
            continue;
        }
        let tx = conn.transaction()?;
        tx.prepare_cached(
            "INSERT INTO transfers (key, from_account, to_account, amount) VALUES (?1, ?2, ?3, 1)",
        )?
        .execute(rusqlite::params![
            uuid::Uuid::new_v4().to_string(),
            from,
            to
        ])?;
        let transfer = tx.last_insert_rowid();
        let mut entry = tx.prepare_cached(
            "INSERT INTO entries (transfer_id, account_id, amount) VALUES (?1, ?2, ?3)",
        )?;
        entry.execute(rusqlite::params![transfer, from, -1])?;
        entry.execute(rusqlite::params![transfer, to, 1])?;
        drop(entry);
        let mut balance =
            tx.prepare_cached("UPDATE accounts SET balance = balance + ?2 WHERE id = ?1")?;
        balance.execute(rusqlite::params![from, -1])?;
        balance.execute(rusqlite::params![to, 1])?;
        drop(balance);
        tx.commit()?;
        done += 1;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// Gives every payer €1,000,000, as `quid admin mint` does.
fn fund(db: &std::path::Path, users: &[(UserId, String)]) -> anyhow::Result<()> {
    let store = crate::store::Store::open_sqlite(db)?;
    let mut conn = store.connect()?;
    let eur = crate::money::Currency::from_code("EUR").map_err(anyhow::Error::msg)?;
    crate::store::writer::write_once(&mut conn, |ctx| {
        for (id, _) in users {
            let user = crate::protocol::User::new(*id, String::new());
            crate::ledger::payments::mint(
                ctx,
                &user,
                crate::money::Money::new(100_000_000, eur),
                &crate::protocol::payments::IdempotencyKey::random(),
            )?;
        }
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("cannot fund the payers: {}", e.message))
}

/// Runs the closed loop; returns the transfers completed inside the window and their latencies.
async fn load(
    addr: &str,
    users: &[(UserId, String)],
    args: &PaymentsArgs,
) -> anyhow::Result<(u64, Vec<u64>)> {
    let mut sockets = Vec::with_capacity(users.len());
    for (_, token) in users {
        sockets.push(connect(addr, Some(token), Hello::Plain).await?);
    }
    let window_start = now_micros() + WARM_UP.as_micros() as u64;
    let window_end = window_start + args.seconds * 1_000_000;
    let count = users.len();
    let mut clients = Vec::new();
    for (n, socket) in sockets.into_iter().enumerate() {
        clients.push(tokio::spawn(pay_loop(
            socket,
            n,
            count,
            window_start..window_end,
        )));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.append(&mut client.await??);
    }
    Ok((latencies.len() as u64, latencies))
}

/// One client: pays a random other payer one cent, waits for the answer, again, until the
/// window ends. Returns the latencies (µs) of the payments answered inside the window.
async fn pay_loop(
    mut socket: Socket,
    me: usize,
    payers: usize,
    window: std::ops::Range<u64>,
) -> anyhow::Result<Vec<u64>> {
    let mut latencies = Vec::new();
    let mut id: u64 = 1;
    loop {
        let mut to = rand::random_range(0..payers - 1);
        if to >= me {
            to += 1;
        }
        let frame = format!(
            r#"{{"id":{id},"type":"pay","to":"payer{to}","amount":{{"amount_minor":1,"currency":"EUR"}},"idempotency_key":"{}"}}"#,
            uuid::Uuid::new_v4()
        );
        let sent = now_micros();
        if sent >= window.end {
            return Ok(latencies);
        }
        socket.send(Message::text(frame)).await?;
        let answer = loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.contains(&format!(r#""id":{id}"#)) => {
                    break text;
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(error.into()),
                None => anyhow::bail!("the server closed the connection"),
            }
        };
        anyhow::ensure!(
            answer.contains(r#""type":"ok""#),
            "a payment was refused: {answer}"
        );
        let answered = now_micros();
        if window.contains(&sent) {
            latencies.push(answered - sent);
        }
        id += 1;
    }
}

fn ledger_is_clean(db: &std::path::Path) -> anyhow::Result<bool> {
    let store = crate::store::Store::open_sqlite(db)?;
    let conn = store.connect()?;
    let findings = crate::store::audit::Audit::audit_ledger(&conn)?;
    Ok(findings.iter().all(|f| f.violations.is_empty()))
}
