//! People paying each other at random from several clients each, over real websockets, some
//! payments sent twice under one key, surviving lost connections and dead servers; and the
//! checks that nothing was created, lost or applied twice. Shared by the concurrency and the
//! several-nodes tests. Clients can also talk in a group, recording each message the server
//! acknowledged.

use super::*;
use quid::protocol::payments::IdempotencyKey;
use quid::protocol::requests;
use quid::protocol::{ClientMsgId, ConversationId, ErrorCode, MessageId, RequestBody, results};
use quid::session::connection::{Connection, RequestError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

pub const PEOPLE: [&str; 4] = ["ann", "ben", "cat", "dan"];
pub const CLIENTS_PER_PERSON: usize = 2;
pub const PAYMENTS_PER_CLIENT: usize = 30;
pub const START_MINOR: i64 = 10_000;

/// What clients saw, per idempotency key.
pub type Outcomes = Arc<Mutex<HashMap<String, Seen>>>;

#[derive(Debug, Default)]
pub struct Seen {
    /// Replies that said this request moved money.
    pub moved: u32,
    /// Replies that said it had moved money before (a retry).
    pub duplicates: u32,
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

/// Where the clients talk, if they do, and the messages the server acknowledged there.
#[derive(Clone, Default)]
pub struct Chat {
    pub group: Option<ConversationId>,
    pub acknowledged: Arc<Mutex<HashSet<MessageId>>>,
}

async fn client(url: Url, token: String, me: usize, seed: u64, outcomes: Outcomes, chat: Chat) {
    let mut rng = Lcg(seed);
    let mut connection = reconnect(&url, &token).await;
    for n in 0..PAYMENTS_PER_CLIENT {
        let to = (me + 1 + rng.next(PEOPLE.len() as u64 - 1) as usize) % PEOPLE.len();
        let key = IdempotencyKey(format!("{}-{seed}-{n}", PEOPLE[me]));
        let body = RequestBody::Pay(requests::Pay {
            to: PEOPLE[to].into(),
            amount: eur(1 + rng.next(3_000) as i64),
            memo: String::new(),
            conversation_id: None,
            idempotency_key: key.clone(),
            pin: None,
        });
        // A third of the payments are sent twice, as a client does when it lost a reply.
        let sends = if rng.next(3) == 0 { 2 } else { 1 };
        for _ in 0..sends {
            send_until_answered(&url, &token, &mut connection, &body, &key, &outcomes).await;
        }
        if let Some(group) = chat.group
            && rng.next(3) == 0
        {
            let text = format!("{} says {n}", PEOPLE[me]);
            let sent = say(&url, &token, &mut connection, group, text).await;
            chat.acknowledged.lock().unwrap().insert(sent);
        }
    }
}

/// Sends a message until the server acknowledges it, retrying under one client id (which the
/// server stores once, however often it arrives).
async fn say(
    url: &Url,
    token: &str,
    connection: &mut Connection,
    conversation_id: ConversationId,
    text: String,
) -> MessageId {
    let body = RequestBody::Send(requests::Send {
        conversation_id,
        client_id: ClientMsgId::random(),
        text,
        reply_to: None,
        file: None,
    });
    loop {
        match connection.request::<results::Sent>(body.clone()).await {
            Ok(sent) => return sent.message.id,
            Err(RequestError::Api(e)) if e.code.is_transient() => {
                tokio::time::sleep(Duration::from_millis(50)).await; // Back off, as a client must.
            }
            Err(RequestError::Api(e)) => panic!("unexpected refusal: {e}"),
            Err(_) => *connection = reconnect(url, token).await,
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
            Err(RequestError::Api(e)) if e.code.is_transient() => {
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
pub async fn reconnect(url: &Url, token: &str) -> Connection {
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

pub async fn run_clients(
    url: &Url,
    tokens: &[String],
    outcomes: &Outcomes,
    chat: &Chat,
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
                chat.clone(),
            )));
        }
    }
    tasks
}

/// Every key moved money at most once, by the clients' account and by the database's.
pub fn assert_each_key_applied_at_most_once(db: &TestDb, outcomes: &Outcomes) {
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

pub async fn register_all(url: &Url, db: &TestDb) -> Vec<String> {
    let mut tokens = Vec::new();
    for person in PEOPLE {
        tokens.push(register(url, person).await);
        mint(db, person, eur(START_MINOR));
    }
    tokens
}
