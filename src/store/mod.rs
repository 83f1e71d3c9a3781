//! The server's store: an embedded SQLite file by default, or PostgreSQL for several nodes.
//! It owns the schema and every query; it never talks to the network. Writes go through
//! [`writer::Writer`] (one thread, group commit); reads use a small pool of connections on
//! blocking threads. The rest of the server sees a database only as [`Backend`].

pub mod accounts;
pub mod audit;
pub mod cards;
pub(crate) mod clock;
pub mod conversations;
pub mod devices;
pub mod events;
pub mod files;
pub mod funding;
pub mod invoices;
pub mod location;
pub mod messages;
pub mod postgres;
pub mod requests;
pub mod search;
pub mod sessions;
pub mod sqlite;
pub mod wallets;
pub mod writer;

/// Everything the server asks of a database: the seam a second backend implements. Each part
/// is a trait of its own, beside the tables it covers; a request sees the store as this.
pub trait Backend:
    Health
    + Users
    + Conversations
    + Devices
    + Fundings
    + Messages
    + Events
    + Sessions
    + Wallets
    + Requests
    + Invoices
    + Audit
    + Search
    + Files
    + Blobs
{
}

impl<T> Backend for T where
    T: Health
        + Users
        + Conversations
        + Devices
        + Fundings
        + Messages
        + Events
        + Sessions
        + Wallets
        + Requests
        + Invoices
        + Audit
        + Search
        + Files
        + Blobs
{
}

/// Whether the database answers at all.
pub trait Health {
    /// Ok when a trivial query succeeds: for `/healthz`.
    fn ping(&self) -> Result<(), ApiError>;
}

/// The store's traits, for calling their methods on a connection:
/// `use crate::store::prelude::*;`.
pub mod prelude {
    pub use super::accounts::Users;
    pub use super::audit::Audit;
    pub use super::conversations::Conversations;
    pub use super::devices::Devices;
    pub use super::events::Events;
    pub use super::files::{Blobs, Files};
    pub use super::funding::Fundings;
    pub use super::invoices::Invoices;
    pub use super::messages::Messages;
    pub use super::requests::Requests;
    pub use super::search::Search;
    pub use super::sessions::Sessions;
    pub use super::wallets::Wallets;
    pub use super::{Backend, Health};
}

use crate::protocol::ApiError;
use accounts::Users;
use audit::Audit;
use conversations::Conversations;
use devices::Devices;
use events::Events;
use files::{Blobs, Files};
use funding::Fundings;
use invoices::Invoices;
use location::Location;
use messages::Messages;
use postgres::notify::NodeId;
use requests::Requests;
use rusqlite::Connection;
use search::Search;
use sessions::Sessions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use wallets::Wallets;

pub use sqlite::Cached;

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// Connections per node for reads and one-off writes on PostgreSQL, which counts them
/// (`max_connections`, 100 by default): with the writers, the listener and the typing relay,
/// a node holds at most 42.
const POSTGRES_READERS: usize = 32;

/// Writer threads per node on PostgreSQL: a request costs a score of round trips to the
/// database, which several transactions in flight overlap.
const POSTGRES_WRITERS: usize = 8;

/// Lanes per node on PostgreSQL for conversations' own writes: each commits its
/// conversations' waiting messages in one transaction, so that several busy conversations
/// commit side by side.
const POSTGRES_LANES: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this quid ({})",
        sqlite::SCHEMA_VERSION
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error("database {location}: {source}")]
    Postgres {
        location: Location,
        source: postgres::OpenError,
    },
    #[error("{0} is not a SQLite file; this works on SQLite only")]
    NotSqlite(Location),
    #[error("cannot start the store writer thread: {0}")]
    WriterThread(std::io::Error),
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the write-ahead log {path}: {source}")]
    OpenWal {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A database failure inside a request: logged here with its detail, reported as `internal`.
impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        tracing::error!(%error, "store failure");
        ApiError::internal()
    }
}

pub struct Store {
    backing: Backing,
}

/// A backend's address and its idle read connections.
enum Backing {
    Sqlite {
        path: PathBuf,
        idle: Pool<Connection>,
    },
    Postgres {
        config: Box<::postgres::Config>,
        idle: Pool<postgres::PgConn>,
        /// This server's name among the nodes on the database.
        node: NodeId,
    },
}

impl Store {
    /// Opens the database at `location` (creating a SQLite file if needed) and brings its
    /// schema up to date. PostgreSQL's client blocks: call this off the async threads.
    pub fn open(location: &Location) -> Result<Arc<Store>, StoreError> {
        let backing = match location {
            Location::Sqlite(path) => {
                let idle = Pool::new(usize::MAX, sqlite::create(path)?);
                Backing::Sqlite {
                    path: path.clone(),
                    idle,
                }
            }
            Location::Postgres(config) => {
                let first = postgres::open(config).map_err(|source| StoreError::Postgres {
                    location: location.clone(),
                    source,
                })?;
                let idle = Pool::new(POSTGRES_READERS, first);
                Backing::Postgres {
                    config: config.clone(),
                    idle,
                    node: NodeId::random(),
                }
            }
        };
        Ok(Arc::new(Store { backing }))
    }

    /// [`Store::open`] on a SQLite file.
    pub fn open_sqlite(path: &Path) -> Result<Arc<Store>, StoreError> {
        Self::open(&Location::Sqlite(path.to_owned()))
    }

    /// A store on SQLite in memory, for tests of the rules (chat, ledger) through the same
    /// `Backend`: no file, no fsync, no migration read from disk. It lives as long as the store
    /// and serves one step at a time (`write_once`, `read_blocking`): its connections share
    /// one cache, whose table locks a reader beside a writer would trip over, so a server or
    /// a `Writer` needs a file.
    pub fn open_in_memory() -> Result<Arc<Store>, StoreError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!(
            "file:quid-memory-{}-{n}?mode=memory&cache=shared",
            std::process::id()
        );
        Self::open_sqlite(Path::new(&name))
    }

    pub fn location(&self) -> Location {
        match &self.backing {
            Backing::Sqlite { path, .. } => Location::Sqlite(path.clone()),
            Backing::Postgres { config, .. } => Location::Postgres(config.clone()),
        }
    }

    /// The PostgreSQL database's address and this node's name on it, when the store is on
    /// one: for the connections that listen to and notify the other nodes.
    pub fn postgres_node(&self) -> Option<(&::postgres::Config, NodeId)> {
        match &self.backing {
            Backing::Postgres { config, node, .. } => Some((config, *node)),
            Backing::Sqlite { .. } => None,
        }
    }

    /// A new SQLite connection with quid's pragmas, outside the `Backend`: for the benchmarks'
    /// work on the file itself (a checkpoint, a count) and for tests that break a database on
    /// purpose. Everything else reads and writes through the store.
    pub(crate) fn connect(&self) -> Result<Connection, StoreError> {
        match &self.backing {
            Backing::Sqlite { path, .. } => sqlite::connect(path),
            Backing::Postgres { .. } => Err(StoreError::NotSqlite(self.location())),
        }
    }

    /// The writer threads' own connections: one on SQLite, which has one writer at a time;
    /// [`POSTGRES_WRITERS`] and [`POSTGRES_LANES`] on PostgreSQL, whose transactions run
    /// side by side.
    pub fn connect_writers(&self) -> Result<writer::Connections, StoreError> {
        match &self.backing {
            Backing::Sqlite { path, .. } => Ok(writer::Connections {
                shared: vec![sqlite::connect_writer(path)?],
                lanes: Vec::new(),
            }),
            Backing::Postgres { config, node, .. } => {
                let connect = |batch| {
                    let conn = postgres::PgConn::connect_writer(config)
                        .map_err(|e| self.postgres_error(e))?;
                    let writer = postgres::PgWriter::new((**config).clone(), conn, *node, batch);
                    Ok(Box::new(writer) as Box<dyn writer::BatchConnection>)
                };
                Ok(writer::Connections {
                    shared: (0..POSTGRES_WRITERS)
                        .map(|_| connect(postgres::Batch::One))
                        .collect::<Result<_, StoreError>>()?,
                    lanes: (0..POSTGRES_LANES)
                        .map(|_| connect(postgres::Batch::Lane))
                        .collect::<Result<_, StoreError>>()?,
                })
            }
        }
    }

    fn connect_postgres(
        &self,
        config: &::postgres::Config,
    ) -> Result<postgres::PgConn, StoreError> {
        postgres::PgConn::connect(config).map_err(|e| self.postgres_error(e))
    }

    fn postgres_error(&self, error: ::postgres::Error) -> StoreError {
        StoreError::Postgres {
            location: self.location(),
            source: error.into(),
        }
    }

    /// Runs `f` through `attempt` on a pooled PostgreSQL connection. A connection that broke
    /// while idle (PostgreSQL restarted) shows it only when its transaction begins, before
    /// `attempt` has called `f`: then it is dropped and the next idle one, or a new one, is
    /// tried. Every idle connection may have broken together, so this goes on until `f` has
    /// run or a new connection fails too (the database is going away again).
    fn on_postgres<F, T>(
        &self,
        config: &::postgres::Config,
        idle: &Pool<postgres::PgConn>,
        f: F,
        attempt: impl Fn(&mut postgres::PgConn, &mut Option<F>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut f = Some(f);
        loop {
            let (mut client, new) = match idle.take_one_idle() {
                Some(client) => (client, false),
                None => (idle.take_or(|| self.connect_postgres(config))?, true),
            };
            let result = attempt(&mut client, &mut f);
            if !client.is_closed() {
                idle.give(client);
                return result;
            }
            idle.discard();
            if f.is_none() || new {
                return result;
            }
        }
    }

    /// Runs a read on a blocking thread with a pooled connection.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Backend) -> Result<T, ApiError> + Send + 'static,
    {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "read task failed");
                ApiError::internal()
            })?
    }

    /// Runs a read on the calling thread, which must not be an async one.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&dyn Backend) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match &self.backing {
            Backing::Sqlite { path, idle } => {
                let conn = idle.take_or(|| sqlite::connect(path))?;
                let result = f(&conn);
                idle.give(conn);
                result
            }
            Backing::Postgres { config, idle, .. } => {
                self.on_postgres(config, idle, f, |client, f| {
                    postgres::read(client, |db| call_once(f, db))
                })
            }
        }
    }

    /// Runs `f` in one transaction of its own, outside the writer: for `quid admin`, which
    /// works on the database whether or not servers run on it (the backend's locks order
    /// them). Events `f` emits are stored, and reach clients when they next resume.
    pub fn write_once<T>(
        &self,
        f: impl FnOnce(&mut writer::WriteCtx) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match &self.backing {
            Backing::Sqlite { path, idle } => {
                let mut conn = idle.take_or(|| sqlite::connect(path))?;
                let result = writer::write_once(&mut conn, f);
                idle.give(conn);
                result
            }
            Backing::Postgres { config, idle, node } => {
                self.on_postgres(config, idle, f, |client, f| {
                    postgres::write_once(client, *node, |ctx| call_once(f, ctx))
                })
            }
        }
    }
}

impl Drop for Store {
    /// PostgreSQL's client says goodbye to the server by blocking on a runtime of its own,
    /// which panics on an async thread, where the server's last handle to the store goes: the
    /// idle clients are closed on a thread of their own.
    fn drop(&mut self) {
        if let Backing::Postgres { idle, .. } = &self.backing {
            let clients = idle.take_idle();
            if !clients.is_empty() {
                let closing = std::thread::Builder::new().name("quid-store-close".into());
                if let Err(error) = closing.spawn(move || drop(clients)) {
                    tracing::warn!(%error, "cannot close the database connections cleanly");
                }
            }
        }
    }
}

/// Calls the work `f` holds, which [`Store::on_postgres`] hands to one attempt at a time.
fn call_once<A, T>(
    f: &mut Option<impl FnOnce(A) -> Result<T, ApiError>>,
    argument: A,
) -> Result<T, ApiError> {
    match f.take() {
        Some(f) => f(argument),
        // An attempt that has called `f` is never followed by another.
        None => Err(ApiError::internal()),
    }
}

/// A connection that cannot be opened: PostgreSQL away is `unavailable` (it comes back);
/// anything else is the server's failure.
fn log_open_failure(error: StoreError) -> ApiError {
    if let StoreError::Postgres {
        source: postgres::OpenError::Postgres(cause),
        ..
    } = &error
        && postgres::is_unreachable(cause)
    {
        tracing::warn!(%error, "cannot reach the database; answering unavailable");
        return ApiError::unavailable();
    }
    tracing::error!(%error, "cannot open a database connection");
    ApiError::internal()
}

/// Connections for reads and one-off writes: kept for reuse (up to [`MAX_IDLE_READERS`]),
/// and at most `max_open` at once, since PostgreSQL counts its connections (SQLite's are
/// cheap: no limit). A caller past the limit waits for a connection to come back.
struct Pool<C> {
    state: Mutex<PoolState<C>>,
    returned: Condvar,
    max_open: usize,
}

struct PoolState<C> {
    idle: Vec<C>,
    open: usize,
}

impl<C> Pool<C> {
    fn new(max_open: usize, first: C) -> Pool<C> {
        Pool {
            state: Mutex::new(PoolState {
                idle: vec![first],
                open: 1,
            }),
            returned: Condvar::new(),
            max_open,
        }
    }

    /// An idle connection, if one waits.
    fn take_one_idle(&self) -> Option<C> {
        self.lock().idle.pop()
    }

    /// An idle connection, or a new one from `connect` if the limit allows, or the next one
    /// given back.
    fn take_or(&self, connect: impl FnOnce() -> Result<C, StoreError>) -> Result<C, ApiError> {
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(conn);
            }
            if state.open < self.max_open {
                state.open += 1;
                break;
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        drop(state);
        connect().map_err(|error| {
            self.discard();
            log_open_failure(error)
        })
    }

    /// Takes a connection back for reuse, or closes it when enough are idle.
    fn give(&self, conn: C) {
        let mut state = self.lock();
        if state.idle.len() < MAX_IDLE_READERS {
            state.idle.push(conn);
        } else {
            state.open -= 1;
        }
        drop(state);
        self.returned.notify_one();
    }

    /// Counts out a connection that broke and was dropped.
    fn discard(&self) {
        self.lock().open -= 1;
        self.returned.notify_one();
    }

    fn take_idle(&self) -> Vec<C> {
        let mut state = self.lock();
        state.open -= state.idle.len();
        std::mem::take(&mut state.idle)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState<C>> {
        // A panic while holding this lock leaves only a list and a count behind: still valid.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each in-memory store is a database of its own, which outlives any one connection.
    #[test]
    fn stores_in_memory_are_apart_and_keep_what_was_written() {
        let (one, other) = (
            Store::open_in_memory().unwrap(),
            Store::open_in_memory().unwrap(),
        );
        one.write_once(|ctx| accounts::create_user(ctx, "alice", "hash"))
            .unwrap();
        drop(one.connect().unwrap());
        let found = |store: &Store| {
            store
                .read_blocking(|db| db.credentials("alice"))
                .unwrap()
                .is_some()
        };
        assert!(found(&one), "what was written is kept");
        assert!(
            !found(&other),
            "another store in memory holds nothing of it"
        );
    }
    use std::time::Duration;

    #[test]
    fn a_pool_at_its_limit_makes_the_next_caller_wait_for_a_connection_back() {
        let pool = Arc::new(Pool::new(1, 7u32));
        let past_the_limit = || Err(StoreError::WriterThread(std::io::ErrorKind::Other.into()));
        let taken = pool.take_or(past_the_limit).unwrap();
        let (sent, received) = std::sync::mpsc::channel();
        let waiter = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || sent.send(pool.take_or(past_the_limit)).unwrap())
        };
        // Had the pool opened a second connection, the waiter would have its error by now.
        assert!(received.recv_timeout(Duration::from_millis(50)).is_err());
        pool.give(taken + 1);
        assert_eq!(received.recv().unwrap().unwrap(), 8);
        waiter.join().unwrap();
    }

    #[test]
    fn a_broken_connection_frees_its_place() {
        let pool = Pool::new(1, 1u32);
        let _broken = pool.take_or(|| unreachable!()).unwrap();
        pool.discard();
        assert_eq!(pool.take_or(|| Ok(2)).unwrap(), 2);
    }
}
