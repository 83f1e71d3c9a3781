//! Many clients over real websockets pay each other among few accounts at once, retrying
//! some payments with the same idempotency key. Afterwards every ledger invariant holds,
//! no money was created or lost, and every key moved money at most once. The second test does
//! the same while the server is killed (SIGKILL) and restarted in the middle.

mod common;

use common::process::ServerProcess;
use common::*;
use quid::protocol::payments::IdempotencyKey;
use quid::protocol::{ErrorCode, RequestBody, results};
use quid::session::connection::{Connection, RequestError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

const PEOPLE: [&str; 4] = ["ann", "ben", "cat", "dan"];
const CLIENTS_PER_PERSON: usize = 2;
const PAYMENTS_PER_CLIENT: usize = 30;
const START_MINOR: i64 = 10_000;

/// What clients saw, per idempotency key.
type Outcomes = Arc<Mutex<HashMap<String, Seen>>>;

#[derive(Debug, Default)]
struct Seen {
    /// Replies that said this request moved money.
    moved: u32,
    /// Replies that said it had moved money before (a retry).
    duplicates: u32,
}

/// A tiny deterministic generator, so a failure can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

async fn client(url: Url, token: String, me: usize, seed: u64, outcomes: Outcomes) {
    let mut rng = Lcg(seed);
    let mut connection = reconnect(&url, &token).await;
    for n in 0..PAYMENTS_PER_CLIENT {
        let to = (me + 1 + rng.next(PEOPLE.len() as u64 - 1) as usize) % PEOPLE.len();
        let key = IdempotencyKey(format!("{}-{seed}-{n}", PEOPLE[me]));
        let body = RequestBody::Pay {
            to: PEOPLE[to].into(),
            amount: eur(1 + rng.next(3_000) as i64),
            memo: String::new(),
            conversation_id: None,
            idempotency_key: key.clone(),
            pin: None,
        };
        // A third of the payments are sent twice, as a client does when it lost a reply.
        let sends = if rng.next(3) == 0 { 2 } else { 1 };
        for _ in 0..sends {
            send_until_answered(&url, &token, &mut connection, &body, &key, &outcomes).await;
        }
    }
}

/// Sends `body` until the server answers, reconnecting and retrying with the same key.
async fn send_until_answered(
    url: &Url,
    token: &str,
    connection: &mut Connection,
    body: &RequestBody,
    key: &IdempotencyKey,
    outcomes: &Outcomes,
) {
    loop {
        match connection.request::<results::Paid>(body.clone()).await {
            Ok(paid) => {
                let mut outcomes = outcomes.lock().unwrap();
                let seen = outcomes.entry(key.0.clone()).or_default();
                if paid.duplicate {
                    seen.duplicates += 1;
                } else {
                    seen.moved += 1;
                }
                return;
            }
            Err(RequestError::Api(e))
                if e.code == ErrorCode::RateLimited || e.code == ErrorCode::Internal =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await; // Back off, as a client must.
            }
            Err(RequestError::Api(e)) => {
                assert_eq!(
                    e.code,
                    ErrorCode::InsufficientFunds,
                    "unexpected refusal: {e}"
                );
                outcomes.lock().unwrap().entry(key.0.clone()).or_default();
                return;
            }
            Err(_) => *connection = reconnect(url, token).await,
        }
    }
}

/// Connects, waiting out a server that is restarting.
async fn reconnect(url: &Url, token: &str) -> Connection {
    for _ in 0..400 {
        if let Ok((connection, _)) = Connection::open(url, Some(token)).await
            && connection.hello(None).await.is_ok()
        {
            return connection;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not come back");
}

async fn run_clients(
    url: &Url,
    tokens: &[String],
    outcomes: &Outcomes,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (me, token) in tokens.iter().enumerate() {
        for copy in 0..CLIENTS_PER_PERSON {
            let seed = (me * 100 + copy) as u64 + 1;
            tasks.push(tokio::spawn(client(
                url.clone(),
                token.clone(),
                me,
                seed,
                Arc::clone(outcomes),
            )));
        }
    }
    tasks
}

/// Every key moved money at most once, by the clients' account and by the database's.
fn assert_each_key_applied_at_most_once(db: &TestDb, outcomes: &Outcomes) {
    let store = open_store(db);
    let outcomes = outcomes.lock().unwrap();
    for (key, seen) in outcomes.iter() {
        assert!(
            seen.moved <= 1,
            "key {key} moved money {} times",
            seen.moved
        );
        // The key's payer is the name it starts with; (payer, key) is unique in the store, so
        // a key is stored once or not at all.
        let payer = key.split('-').next().unwrap().to_owned();
        let lookup = IdempotencyKey(key.clone());
        let stored = off_async(|| {
            store.read_blocking(|db| {
                let payer = db.user_by_name(&payer)?;
                db.transfer_by_key(payer.id, &lookup)
            })
        })
        .unwrap();
        // A reply that said "moved" or "moved before" promises a stored transfer. (A payment
        // can be stored while its only reply was lost in the crash: then the client saw neither.)
        if seen.moved + seen.duplicates > 0 {
            assert!(stored.is_some(), "key {key}: acknowledged but not stored");
        }
    }
    let total: i64 = off_async(|| {
        store.read_blocking(|db| {
            let mut total = 0;
            for person in PEOPLE {
                let user = db.user_by_name(person)?;
                total += db
                    .balances(user.id)?
                    .iter()
                    .map(|m| m.amount_minor)
                    .sum::<i64>();
            }
            Ok(total)
        })
    })
    .unwrap();
    assert_eq!(
        total,
        START_MINOR * PEOPLE.len() as i64,
        "money was created or lost"
    );
}

async fn register_all(url: &Url, db: &TestDb) -> Vec<String> {
    let mut tokens = Vec::new();
    for person in PEOPLE {
        tokens.push(register(url, person).await);
        mint(db, person, eur(START_MINOR));
    }
    tokens
}

async fn concurrent_payments_with_retries_keep_the_ledger_whole(db: TestDb) {
    let server = TestServer::start(&db).await;
    let tokens = register_all(&server.url(), &db).await;
    let outcomes: Outcomes = Arc::default();
    for task in run_clients(&server.url(), &tokens, &outcomes).await {
        task.await.unwrap();
    }
    server.stop().await;
    assert_ledger_ok(&db);
    assert_each_key_applied_at_most_once(&db, &outcomes);
    let outcomes = outcomes.lock().unwrap();
    assert!(outcomes.values().filter(|s| s.moved == 1).count() > PEOPLE.len() * 5);
    assert!(
        outcomes.values().any(|s| s.duplicates > 0),
        "retries happened"
    );
}

async fn concurrent_payments_survive_a_killed_server(db: TestDb) {
    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let listen = server.addr.to_string();
    let url = Url::parse(&format!("ws://{listen}")).unwrap();
    let tokens = register_all(&url, &db).await;
    let outcomes: Outcomes = Arc::default();
    let tasks = run_clients(&url, &tokens, &outcomes).await;

    // Kill the server once a good share of payments went through, then bring it back.
    let halfway = PEOPLE.len() * CLIENTS_PER_PERSON * PAYMENTS_PER_CLIENT / 3;
    tokio::time::timeout(PATIENCE, async {
        while outcomes.lock().unwrap().len() < halfway {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("payments flow before the crash");
    server.kill();
    let _restarted = ServerProcess::start(&db, &listen);
    for task in tasks {
        task.await.unwrap();
    }
    assert_ledger_ok(&db);
    assert_each_key_applied_at_most_once(&db, &outcomes);
}

on_each_backend!(
    multi_thread:
    concurrent_payments_with_retries_keep_the_ledger_whole,
    concurrent_payments_survive_a_killed_server,
);
