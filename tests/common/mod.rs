//! Shared helpers for the end-to-end tests: a real server on an ephemeral loopback port with a
//! temporary database, registered users, sessions, raw websockets and a cuttable proxy.
#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

pub mod postgres;
pub mod process;
pub mod proxy;
pub mod tmux;

use quid::protocol::{ConversationId, RequestBody, results};
use quid::server::{Server, ServerConfig};
use quid::session::backoff::Backoff;
use quid::session::connection::Connection;
use quid::session::{Session, SessionConfig, SessionEvent};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use url::Url;

/// Upper bound on any single wait in a test; reaching it means the test failed.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct TestServer {
    pub addr: SocketAddr,
    pub db: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(db: &Path) -> TestServer {
        Self::start_with(db, ServerConfig::default()).await
    }

    pub async fn start_with(db: &Path, config: ServerConfig) -> TestServer {
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), db, config)
            .await
            .expect("server binds");
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            db: db.to_owned(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> Url {
        Url::parse(&format!("ws://{}", self.addr)).unwrap()
    }

    /// Graceful stop: returns once every connection is closed and the store is flushed.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// Registers `username` and returns its token.
pub async fn register(url: &Url, username: &str) -> String {
    let (connection, _) = Connection::open(url, None).await.unwrap();
    connection.hello(None).await.unwrap();
    let auth: results::Auth = connection
        .request(RequestBody::Register {
            username: username.into(),
            password: "correct horse battery".into(),
        })
        .await
        .unwrap();
    auth.token
}

/// A logged-in connection without an event stream.
pub async fn connect(url: &Url, token: &str) -> Connection {
    let (connection, _) = Connection::open(url, Some(token)).await.unwrap();
    connection.hello(None).await.unwrap();
    connection
}

/// A subscribed session with fast reconnects, its state in `dir`.
pub fn session(url: &Url, token: &str, dir: &Path) -> (Session, mpsc::Receiver<SessionEvent>) {
    Session::start(SessionConfig {
        server: url.clone(),
        ca_file: None,
        token: token.to_owned(),
        state_dir: dir.to_owned(),
        subscribe: true,
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
    })
    .unwrap()
}

/// Waits for the first session event that `pick` maps to `Some`, skipping the others.
pub async fn next_matching<T>(
    events: &mut mpsc::Receiver<SessionEvent>,
    mut pick: impl FnMut(SessionEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = events.recv().await.expect("session still running");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await
    .expect("expected session event did not arrive in time")
}

/// Waits until the session has caught up with the server.
pub async fn caught_up(events: &mut mpsc::Receiver<SessionEvent>) {
    next_matching(events, |e| {
        matches!(e, SessionEvent::CaughtUp).then_some(())
    })
    .await
}

/// The direct conversation between the connection's user and `username`.
pub async fn open_direct(connection: &Connection, username: &str) -> ConversationId {
    let opened: results::OneConversation = connection
        .request(RequestBody::OpenDirect {
            username: username.into(),
        })
        .await
        .unwrap();
    opened.conversation.id
}

/// Asserts every ledger invariant holds on the database at `db`.
pub fn assert_ledger_ok(db: &Path) {
    let store = quid::store::Store::open(db).unwrap();
    let conn = store.connect().unwrap();
    let findings = quid::store::audit::Audit::audit_ledger(&conn).unwrap();
    let broken: Vec<_> = findings
        .iter()
        .filter(|f| !f.violations.is_empty())
        .collect();
    assert!(
        broken.is_empty(),
        "ledger broken:\n{}",
        quid::ledger::check::report(&findings)
    );
}

/// Funds `username` with `amount` from issuance, as `quid admin mint` does.
pub fn mint(db: &Path, username: &str, amount: quid::money::Money) {
    let store = quid::store::Store::open(db).unwrap();
    let mut conn = store.connect().unwrap();
    quid::store::writer::write_once(&mut conn, |ctx| {
        let user = ctx.db().user_by_name(username)?;
        quid::ledger::payments::mint(
            ctx,
            &user,
            amount,
            &quid::protocol::payments::IdempotencyKey::random(),
        )
    })
    .unwrap();
}

pub fn eur(minor: i64) -> quid::money::Money {
    quid::money::Money::new(minor, quid::money::Currency::from_code("EUR").unwrap())
}

/// Makes a bot account in `db`, as `quid admin create-bot` does, and returns its token.
pub fn create_bot(db: &Path, name: &str, merchant: Option<&str>) -> String {
    let token = quid::server::auth::new_token();
    let hash = quid::server::auth::token_hash(&token);
    let store = quid::store::Store::open(db).unwrap();
    let mut conn = store.connect().unwrap();
    quid::store::writer::write_once(&mut conn, |ctx| {
        let bot = quid::store::accounts::create_bot(ctx, name, merchant)?;
        quid::store::sessions::insert_token(ctx, &hash, bot.id)
    })
    .unwrap();
    token
}
