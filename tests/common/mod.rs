//! Shared helpers for the end-to-end tests: a real server on an ephemeral loopback port with a
//! temporary database, registered users, sessions, raw websockets and a cuttable proxy.
#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

pub mod chromium;
pub mod hostile;
pub mod partner;
pub mod payers;
pub mod postgres;
pub mod process;
pub mod proxy;
pub mod tmux;

use quid::protocol::requests;
use quid::protocol::{ConversationId, RequestBody, results};
use quid::server::{Server, ServerConfig};
use quid::store::Store;
use quid::store::location::{Location, parse_db};

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

/// Runs `f` on a thread of its own: PostgreSQL's blocking client must not run on an async
/// thread, and the tests' helpers are called from async tests.
pub fn off_async<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(f).join().expect("helper thread panicked"))
}

/// A test's database: a SQLite file in a temporary directory, or a fresh database on the
/// binary's shared PostgreSQL cluster.
pub struct TestDb {
    pub location: Location,
    /// Where SQLite's file lives, and room for the test's other files either way.
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        TestDb {
            location: Location::Sqlite(dir.path().join("server.db")),
            dir,
        }
    }

    /// `None`, having said why on stderr, when PostgreSQL is not installed.
    pub fn postgres() -> Option<TestDb> {
        Some(TestDb::postgres_on(postgres::PgCluster::shared()?))
    }

    /// A new database on `cluster`: for a test that stops and starts a cluster of its own.
    pub fn postgres_on(cluster: &postgres::PgCluster) -> TestDb {
        let url = off_async(|| cluster.new_database());
        TestDb {
            location: parse_db(&url).unwrap(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Every file the server's database is kept in: SQLite's file with its WAL, or the whole
    /// PostgreSQL cluster's data directory (tables and write-ahead log).
    pub fn server_files(&self) -> Vec<PathBuf> {
        match &self.location {
            Location::Sqlite(_) => files_under(self.dir.path()),
            _ => files_under(&postgres::PgCluster::shared().expect("running").data()),
        }
    }

    /// A path for the test's own files (client state and the like).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The files of `files` that hold `needle` anywhere in their bytes.
pub fn files_containing(files: &[PathBuf], needle: &[u8]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|file| {
            std::fs::read(file)
                .map(|bytes| memchr::memmem::find(&bytes, needle).is_some())
                .unwrap_or(false)
        })
        .cloned()
        .collect()
}

/// What the helpers take for a database: a `Location`, or a SQLite file's path.
pub trait Db {
    fn location(&self) -> Location;
}

impl Db for Location {
    fn location(&self) -> Location {
        self.clone()
    }
}

impl Db for TestDb {
    fn location(&self) -> Location {
        self.location.clone()
    }
}

impl Db for Path {
    fn location(&self) -> Location {
        Location::Sqlite(self.to_owned())
    }
}

impl Db for PathBuf {
    fn location(&self) -> Location {
        Location::Sqlite(self.clone())
    }
}

/// Runs each named test function (`async fn NAME(db: TestDb)`) twice, as `NAME::sqlite` and
/// `NAME::postgres`; the second skips, loudly, when PostgreSQL is not installed. Prefix the
/// list with `multi_thread:` for tests that need two runtime threads.
#[macro_export]
macro_rules! on_each_backend {
    (multi_thread: $($name:ident),* $(,)?) => {
        $crate::on_each_backend!(
            @with #[tokio::test(flavor = "multi_thread", worker_threads = 2)] $($name),*
        );
    };
    (@with #[$attr:meta] $($name:ident),*) => {$(
        mod $name {
            #[$attr]
            async fn sqlite() {
                super::$name($crate::common::TestDb::sqlite()).await
            }

            #[$attr]
            async fn postgres() {
                if let Some(db) = $crate::common::TestDb::postgres() {
                    super::$name(db).await
                }
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {
        $crate::on_each_backend!(@with #[tokio::test] $($name),*);
    };
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub db: Location,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(db: &(impl Db + ?Sized)) -> TestServer {
        Self::start_with(db, ServerConfig::default()).await
    }

    pub async fn start_with(db: &(impl Db + ?Sized), config: ServerConfig) -> TestServer {
        let db = db.location();
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), &db, config)
            .await
            .expect("server binds");
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            db,
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
        .request(RequestBody::Register(requests::Register {
            username: username.into(),
            password: "correct horse battery".into(),
        }))
        .await
        .unwrap();
    auth.token
}

/// A connection logged in with the password [`register`] gives everyone.
pub async fn login(url: &Url, username: &str) -> Connection {
    let (anonymous, _) = Connection::open(url, None).await.unwrap();
    anonymous.hello(None).await.unwrap();
    let auth: results::Auth = anonymous
        .request(RequestBody::Login(requests::Login {
            username: username.into(),
            password: "correct horse battery".into(),
        }))
        .await
        .unwrap();
    connect(url, &auth.token).await
}

/// The whole answer to a plain HTTP GET of `path`, the connection closed after it.
pub async fn http_get_at(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Read to the end: the server closes after answering only when asked (keep-alive).
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
}

/// A logged-in connection without an event stream.
pub async fn connect(url: &Url, token: &str) -> Connection {
    let (connection, _) = Connection::open(url, Some(token)).await.unwrap();
    connection.hello(None).await.unwrap();
    connection
}

/// A subscribed session with fast reconnects, its state in `dir`.
pub fn session(url: &Url, token: &str, dir: &Path) -> (Session, mpsc::Receiver<SessionEvent>) {
    session_with(url, token, dir, None)
}

/// As `session`, with secret conversations: its secret store in `dir` too, with a key file.
pub fn secret_session(
    url: &Url,
    token: &str,
    dir: &Path,
) -> (Session, mpsc::Receiver<SessionEvent>) {
    session_with(url, token, dir, Some(quid::secret::vault::Unlock::KeyFile))
}

fn session_with(
    url: &Url,
    token: &str,
    dir: &Path,
    secret: Option<quid::secret::vault::Unlock>,
) -> (Session, mpsc::Receiver<SessionEvent>) {
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
        secret,
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

/// The ids of the messages of `conversation` a session hands on, in the order it does, as
/// they arrive: a task drains `events` into the watch.
pub fn collect_messages(
    mut events: mpsc::Receiver<SessionEvent>,
    conversation: ConversationId,
) -> tokio::sync::watch::Receiver<Vec<quid::protocol::MessageId>> {
    let (collected, inbox) = tokio::sync::watch::channel(Vec::new());
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let SessionEvent::Event {
                event: quid::protocol::Event::Message { message },
                ..
            } = event
                && message.conversation_id == conversation
            {
                collected.send_modify(|ids| ids.push(message.id));
            }
        }
    });
    inbox
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
        .request(RequestBody::OpenDirect(requests::OpenDirect {
            username: username.into(),
        }))
        .await
        .unwrap();
    opened.conversation.id
}

/// The store at `db`, for a helper to read or write it directly, as `quid admin` does. (Call
/// its methods through [`off_async`].)
pub fn open_store(db: &(impl Db + ?Sized)) -> std::sync::Arc<Store> {
    let location = db.location();
    off_async(|| Store::open(&location)).unwrap()
}

/// Asserts every ledger invariant holds on the database at `db`.
pub fn assert_ledger_ok(db: &(impl Db + ?Sized)) {
    let store = open_store(db);
    let findings = off_async(|| store.read_blocking(|db| db.audit_ledger())).unwrap();
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
pub fn mint(db: &(impl Db + ?Sized), username: &str, amount: quid::money::Money) {
    let store = open_store(db);
    off_async(|| {
        store.write_once(|ctx| {
            let user = ctx.db().user_by_name(username)?;
            let key = quid::protocol::payments::IdempotencyKey::random();
            quid::ledger::payments::mint(ctx, &user, amount, &key)
        })
    })
    .unwrap();
}

pub fn eur(minor: i64) -> quid::money::Money {
    quid::money::Money::new(minor, quid::money::Currency::from_code("EUR").unwrap())
}

/// Makes a bot account in `db`, as `quid admin create-bot` does, and returns its token.
pub fn create_bot(db: &(impl Db + ?Sized), name: &str, merchant: Option<&str>) -> String {
    let token = quid::server::auth::new_token();
    let hash = quid::server::auth::token_hash(&token);
    let store = open_store(db);
    off_async(|| {
        store.write_once(|ctx| {
            let bot = quid::store::accounts::create_bot(ctx, name, merchant)?;
            quid::store::sessions::insert_token(ctx, &hash, bot.id)
        })
    })
    .unwrap();
    token
}
