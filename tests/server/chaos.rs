//! Chaos: the real `quid serve` as a child process, clients doing random messages, payments,
//! payment requests and invoice payments, each retried under the same key or client_id until
//! it is answered, while connections are cut mid-request and the server is SIGKILLed and
//! restarted at random moments. Then it checks what must hold whatever happened: money
//! conserved per currency, the ledger's invariants, every acknowledged transfer present exactly
//! once, every acknowledged message stored exactly once and received exactly once, in one
//! order, by every member's session.
//!
//! Seeded: the seed is printed first and on failure. Short by default; longer with
//!     QUID_CHAOS_KILLS=100 QUID_CHAOS_SEED=42 cargo test --release --test server chaos:: -- --nocapture

use crate::common::process::ServerProcess;
use crate::common::*;
use quid::protocol::ApiError;
use quid::protocol::payments::{IdempotencyKey, LineItem};
use quid::protocol::requests;
use quid::protocol::{ClientMsgId, ConversationId, ErrorCode, MessageId, RequestBody, results};
use quid::session::connection::{Connection, RequestError};
use quid::store::Backend;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use url::Url;

const PEOPLE: [&str; 4] = ["ann", "ben", "cat", "dan"];
const MERCHANT: &str = "shop";
/// Each person starts with this much, in EUR minor units.
const START_MINOR: i64 = 50_000;

struct Settings {
    seed: u64,
    kills: usize,
    operations_per_client: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
        let kills = number("QUID_CHAOS_KILLS").unwrap_or(10) as usize;
        Settings {
            seed: number("QUID_CHAOS_SEED").unwrap_or_else(rand::random),
            kills,
            // Enough work to span every kill.
            operations_per_client: number("QUID_CHAOS_OPERATIONS")
                .map(|n| n as usize)
                .unwrap_or(30 + 8 * kills),
        }
    }
}

/// What the clients were told succeeded.
#[derive(Default)]
struct Acknowledged {
    /// (payer, key) -> (transfer id, amount): payments, paid requests and paid invoices.
    transfers: HashMap<(String, String), (i64, i64)>,
    /// (sender, client_id) -> message id.
    messages: HashMap<(String, ClientMsgId), MessageId>,
    operations: usize,
    refusals: BTreeMap<String, usize>,
}

/// The server, restartable on its own port, and the world the clients share.
struct World {
    db: TestDb,
    listen: String,
    url: Url,
    server: Mutex<Option<ServerProcess>>,
    tokens: HashMap<String, String>,
    group: ConversationId,
    acknowledged: Mutex<Acknowledged>,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn money_and_messages_survive_cuts_and_kills(db: TestDb) {
    let settings = Settings::from_env();
    println!(
        "chaos seed {} ({} kills, {} operations per client)",
        settings.seed, settings.kills, settings.operations_per_client
    );
    let world = Arc::new(set_up(db).await);
    let inboxes = start_sessions(&world);

    let mut clients = Vec::new();
    for (n, person) in PEOPLE.iter().enumerate() {
        let world = Arc::clone(&world);
        let rng = StdRng::seed_from_u64(settings.seed.wrapping_add(n as u64 + 1));
        let count = settings.operations_per_client;
        clients.push(tokio::spawn(client(world, person, rng, count)));
    }
    let killer = tokio::spawn(kill_at_random(
        Arc::clone(&world),
        StdRng::seed_from_u64(settings.seed),
        settings.kills,
    ));
    for client in clients {
        client.await.expect("a client panicked");
    }
    let kills = killer.await.unwrap();

    let report = check(&world, inboxes).await;
    println!(
        "chaos seed {}: {kills} kills survived, {} operations acknowledged ({} transfers, {} messages), refusals {:?}, violations 0",
        settings.seed, report.operations, report.transfers, report.messages, report.refusals
    );
    world.server.lock().await.take();
}

async fn set_up(db: TestDb) -> World {
    let listen = format!("127.0.0.1:{}", free_port());
    let server = ServerProcess::start(&db, &listen);
    let url = Url::parse(&format!("ws://{listen}")).unwrap();
    let mut tokens = HashMap::new();
    for person in PEOPLE {
        tokens.insert(person.to_owned(), register(&url, person).await);
        mint(&db, person, eur(START_MINOR));
    }
    tokens.insert(MERCHANT.to_owned(), create_bot(&db, MERCHANT, Some("Shop")));
    let ann = connect(&url, &tokens["ann"]).await;
    let group: results::OneConversation = ann
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: "chaos".into(),
            members: PEOPLE[1..].iter().map(|p| p.to_string()).collect(),
        }))
        .await
        .unwrap();
    World {
        db,
        listen,
        url,
        server: Mutex::new(Some(server)),
        tokens,
        group: group.conversation.id,
        acknowledged: Mutex::default(),
    }
}

/// Kills the server `kills` times at random moments, restarting it on the same port each time.
async fn kill_at_random(world: Arc<World>, mut rng: StdRng, kills: usize) -> usize {
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..600))).await;
        let mut server = world.server.lock().await;
        if let Some(running) = server.take() {
            running.kill();
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..100))).await;
        *server = Some(ServerProcess::start(&world.db, &world.listen));
    }
    kills
}

/// One subscribed session per person, collecting every message event it is handed; the
/// checker waits on the watch for the count it expects.
type Inbox = tokio::sync::watch::Receiver<Vec<MessageId>>;

fn start_sessions(world: &Arc<World>) -> Vec<(String, Inbox, quid::session::Session)> {
    PEOPLE
        .iter()
        .map(|person| {
            let (session, events) =
                session(&world.url, &world.tokens[*person], &world.db.path(person));
            let inbox = collect_messages(events, world.group);
            (person.to_string(), inbox, session)
        })
        .collect()
}

/// One step of a client's script.
enum Operation {
    Say(ClientMsgId, String),
    Pay(String, i64, IdempotencyKey),
    /// Ask someone, then (as them) pay it.
    Request(String, i64, IdempotencyKey, IdempotencyKey),
    /// The shop bills this person, who pays; then, the last key given, the shop refunds it.
    Invoice(i64, IdempotencyKey, IdempotencyKey, Option<IdempotencyKey>),
}

fn pick(rng: &mut StdRng, me: &str) -> Operation {
    let others: Vec<&str> = PEOPLE.iter().copied().filter(|p| *p != me).collect();
    let other = others[rng.random_range(0..others.len())].to_owned();
    let amount = rng.random_range(1..500);
    match rng.random_range(0..10) {
        0..=3 => Operation::Say(
            ClientMsgId(uuid::Uuid::from_u128(rng.random())),
            format!("{me} says {}", rng.random::<u32>()),
        ),
        4..=6 => Operation::Pay(other, amount, key(rng)),
        7..=8 => Operation::Request(other, amount, key(rng), key(rng)),
        _ => {
            let refund = rng.random_bool(0.5).then(|| key(rng));
            Operation::Invoice(amount, key(rng), key(rng), refund)
        }
    }
}

fn key(rng: &mut StdRng) -> IdempotencyKey {
    IdempotencyKey(uuid::Uuid::from_u128(rng.random()).to_string())
}

async fn client(world: Arc<World>, me: &'static str, mut rng: StdRng, count: usize) {
    let mut link = Link::new(&world, me);
    let mut shop = Link::new(&world, MERCHANT);
    for _ in 0..count {
        let operation = pick(&mut rng, me);
        run(&world, me, operation, &mut link, &mut shop, &mut rng).await;
    }
}

async fn run(
    world: &World,
    me: &str,
    operation: Operation,
    link: &mut Link,
    shop: &mut Link,
    rng: &mut StdRng,
) {
    match operation {
        Operation::Say(client_id, text) => {
            let body = RequestBody::Send(requests::Send {
                conversation_id: world.group,
                client_id,
                text,
                reply_to: None,
                file: None,
            });
            if let Ok(sent) = link.until_answered::<results::Sent>(body, rng).await {
                let mut acknowledged = world.acknowledged.lock().await;
                acknowledged
                    .messages
                    .insert((me.to_owned(), client_id), sent.message.id);
                acknowledged.operations += 1;
            }
        }
        Operation::Pay(to, amount, key) => {
            let body = pay(&to, amount, &key);
            let paid = link.until_answered::<results::Paid>(body, rng).await;
            record_transfer(world, me, &key, amount, paid).await;
        }
        Operation::Request(from, amount, ask_key, pay_key) => {
            let body = RequestBody::RequestMoney(requests::RequestMoney {
                from: from.clone(),
                amount: eur(amount),
                memo: "chaos".into(),
                conversation_id: None,
                expires_in_secs: None,
                idempotency_key: ask_key,
            });
            let Ok(asked) = link.until_answered::<results::RequestMade>(body, rng).await else {
                return;
            };
            let mut payer = Link::new(world, &from);
            let body = RequestBody::PayRequest(requests::PayRequest {
                request_id: asked.request.id,
                idempotency_key: pay_key.clone(),
                pin: None,
            });
            let paid = payer.until_answered::<results::Paid>(body, rng).await;
            record_transfer(world, &from, &pay_key, amount, paid).await;
        }
        Operation::Invoice(amount, send_key, pay_key, refund_key) => {
            let Ok(conversation) = shop
                .until_answered::<results::OneConversation>(
                    RequestBody::OpenDirect(requests::OpenDirect {
                        username: me.into(),
                    }),
                    rng,
                )
                .await
            else {
                return;
            };
            let body = RequestBody::SendInvoice(requests::SendInvoice {
                conversation_id: conversation.conversation.id,
                items: vec![LineItem {
                    name: "thing".into(),
                    quantity: 1,
                    unit_price_minor: amount,
                }],
                currency: eur(0).currency,
                total_minor: amount,
                payload: String::new(),
                expires_in_secs: None,
                idempotency_key: send_key,
            });
            let Ok(sent) = shop.until_answered::<results::InvoiceMade>(body, rng).await else {
                return;
            };
            let body = RequestBody::PayInvoice(requests::PayInvoice {
                invoice_id: sent.invoice.id,
                idempotency_key: pay_key.clone(),
                pin: None,
            });
            let paid = link.until_answered::<results::Paid>(body, rng).await;
            let was_paid = paid.is_ok();
            record_transfer(world, me, &pay_key, amount, paid).await;
            let Some(refund_key) = refund_key.filter(|_| was_paid) else {
                return;
            };
            let body = RequestBody::Refund(requests::Refund {
                invoice_id: sent.invoice.id,
                amount: None,
                idempotency_key: refund_key.clone(),
            });
            let refunded = shop
                .until_answered::<results::Refunded>(body, rng)
                .await
                .map(|refunded| results::Paid {
                    balance_after: refunded.transfer.amount,
                    transfer: refunded.transfer,
                    duplicate: refunded.duplicate,
                });
            record_transfer(world, MERCHANT, &refund_key, amount, refunded).await;
        }
    }
}

fn pay(to: &str, amount: i64, key: &IdempotencyKey) -> RequestBody {
    RequestBody::Pay(requests::Pay {
        to: to.into(),
        amount: eur(amount),
        memo: "chaos".into(),
        conversation_id: None,
        idempotency_key: key.clone(),
        pin: None,
    })
}

async fn record_transfer(
    world: &World,
    payer: &str,
    key: &IdempotencyKey,
    amount: i64,
    paid: Result<results::Paid, ErrorCode>,
) {
    let mut acknowledged = world.acknowledged.lock().await;
    match paid {
        Ok(paid) => {
            assert_eq!(
                paid.transfer.amount,
                eur(amount),
                "the answer names the amount"
            );
            acknowledged.transfers.insert(
                (payer.to_owned(), key.0.clone()),
                (paid.transfer.id.0, amount),
            );
            acknowledged.operations += 1;
        }
        Err(code) => *acknowledged.refusals.entry(code.to_string()).or_default() += 1,
    }
}

/// One person's connection, reopened whenever it is lost or cut.
struct Link {
    url: Url,
    token: String,
    connection: Option<Connection>,
}

impl Link {
    fn new(world: &World, who: &str) -> Link {
        Link {
            url: world.url.clone(),
            token: world.tokens[who].clone(),
            connection: None,
        }
    }

    /// Sends `body` until the server answers it: a result, or a refusal (`Err(code)`). A lost
    /// connection, a cut (we drop the connection mid-request at random) or an `internal` error
    /// is retried with the very same body, so the same key or client_id.
    async fn until_answered<T: serde::de::DeserializeOwned>(
        &mut self,
        body: RequestBody,
        rng: &mut StdRng,
    ) -> Result<T, ErrorCode> {
        let deadline = tokio::time::Instant::now() + PATIENCE * 3;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{body:?} was never answered"
            );
            let Some(connection) = self.connection().await else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let cut_after = rng
                .random_bool(0.1)
                .then(|| Duration::from_micros(rng.random_range(0..3_000)));
            let request = connection.request::<T>(body.clone());
            let answer = match cut_after {
                Some(after) => match tokio::time::timeout(after, request).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        self.connection = None; // Cut: the reply, if any, is lost.
                        continue;
                    }
                },
                None => request.await,
            };
            match answer {
                Ok(value) => return Ok(value),
                Err(RequestError::Api(error)) if error.code == ErrorCode::Internal => {}
                Err(RequestError::Api(error)) if error.code == ErrorCode::RateLimited => {
                    tokio::time::sleep(Duration::from_millis(error.retry_after_ms.unwrap_or(50)))
                        .await;
                }
                Err(RequestError::Api(error)) => return Err(error.code),
                Err(_) => self.connection = None,
            }
        }
    }

    async fn connection(&mut self) -> Option<Connection> {
        if self.connection.is_none() {
            let (connection, _) = Connection::open(&self.url, Some(&self.token)).await.ok()?;
            connection.hello(None).await.ok()?;
            self.connection = Some(connection);
        }
        self.connection.clone()
    }
}

struct Report {
    operations: usize,
    transfers: usize,
    messages: usize,
    refusals: BTreeMap<String, usize>,
}

async fn check(world: &World, inboxes: Vec<(String, Inbox, quid::session::Session)>) -> Report {
    let acknowledged = world.acknowledged.lock().await;
    assert_ledger_ok(&world.db);
    let store = open_store(&world.db);
    let read = |f: &(dyn Fn(&dyn Backend) -> Result<i64, ApiError> + Sync)| {
        off_async(|| store.read_blocking(f)).unwrap()
    };

    // Money: every currency sums to what was minted; no wallet below zero (check-ledger too).
    let held: i64 = PEOPLE
        .iter()
        .chain([&MERCHANT])
        .map(|name| {
            read(&|db| {
                let user = db.user_by_name(name)?;
                Ok(db.balances(user.id)?.iter().map(|m| m.amount_minor).sum())
            })
        })
        .sum();
    assert_eq!(held, START_MINOR * PEOPLE.len() as i64, "money conserved");

    // Every acknowledged transfer is there exactly once (keys are unique per payer), as
    // acknowledged.
    for ((payer, key), (id, amount)) in &acknowledged.transfers {
        let key = IdempotencyKey(key.clone());
        let stored = off_async(|| {
            store.read_blocking(|db| {
                let payer = db.user_by_name(payer)?;
                let found = db.transfer_by_key(payer.id, &key)?;
                found
                    .map(|(transfer, _)| {
                        Ok((transfer.0, db.transfer(transfer)?.amount.amount_minor))
                    })
                    .transpose()
            })
        })
        .unwrap();
        assert_eq!(stored, Some((*id, *amount)), "{payer}'s transfer {key:?}");
    }

    // Every acknowledged message is stored exactly once ((sender, client id) is unique).
    for ((sender, client_id), id) in &acknowledged.messages {
        let stored = read(&|db| {
            let sender = db.user_by_name(sender)?;
            Ok(db
                .message_by_client_id(sender.id, *client_id)?
                .map_or(0, |message| message.id.0))
        });
        assert_eq!(stored, id.0, "{sender}'s message {client_id:?}");
    }

    // Every session receives every group message exactly once, in the same (id) order.
    let group = world.group;
    let mut in_group: Vec<MessageId> = off_async(|| {
        store.read_blocking(|db| {
            let newest_first = db.messages_before(group, MessageId(i64::MAX), u32::MAX)?;
            Ok(newest_first.into_iter().map(|m| m.id).collect::<Vec<_>>())
        })
    })
    .unwrap();
    in_group.reverse();
    for (person, mut inbox, _session) in inboxes {
        let received =
            tokio::time::timeout(PATIENCE, inbox.wait_for(|ids| ids.len() >= in_group.len()))
                .await
                .unwrap_or_else(|_| panic!("{person}'s session did not catch up"))
                .expect("the session's collector runs")
                .clone();
        assert_eq!(
            received, in_group,
            "{person} received every message once, in order"
        );
    }

    Report {
        operations: acknowledged.operations,
        transfers: acknowledged.transfers.len(),
        messages: acknowledged.messages.len(),
        refusals: acknowledged.refusals.clone(),
    }
}

on_each_backend!(
    multi_thread:
    money_and_messages_survive_cuts_and_kills,
);
