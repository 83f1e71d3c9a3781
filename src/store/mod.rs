//! The server's store: one SQLite database in WAL mode. It owns the schema and every query;
//! it never talks to the network. Writes go through [`writer::Writer`] (one thread, group
//! commit); reads use a small pool of connections on blocking threads.

pub mod accounts;
pub mod audit;
pub mod cards;
pub mod conversations;
pub mod events;
pub mod invoices;
pub mod location;
pub mod messages;
pub mod postgres;
pub mod requests;
pub mod sessions;
pub mod wallets;
pub mod writer;

/// Everything the server asks of a database: the seam a second backend implements. Each part
/// is a trait of its own, beside the tables it covers; a request sees the store as this.
pub trait Backend:
    Health
    + Users
    + Conversations
    + Messages
    + Events
    + Sessions
    + Wallets
    + Requests
    + Invoices
    + Audit
{
}

impl<T> Backend for T where
    T: Health
        + Users
        + Conversations
        + Messages
        + Events
        + Sessions
        + Wallets
        + Requests
        + Invoices
        + Audit
{
}

/// Whether the database answers at all.
pub trait Health {
    /// Ok when a trivial query succeeds: for `/healthz`.
    fn ping(&self) -> Result<(), ApiError>;
}

impl Health for Connection {
    fn ping(&self) -> Result<(), ApiError> {
        self.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?;
        Ok(())
    }
}

/// The store's traits, for calling their methods on a connection:
/// `use crate::store::prelude::*;`.
pub mod prelude {
    pub use super::accounts::Users;
    pub use super::audit::Audit;
    pub use super::conversations::Conversations;
    pub use super::events::Events;
    pub use super::invoices::Invoices;
    pub use super::messages::Messages;
    pub use super::requests::Requests;
    pub use super::sessions::Sessions;
    pub use super::wallets::Wallets;
    pub use super::{Backend, Health};
}

use crate::protocol::ApiError;
use accounts::Users;
use audit::Audit;
use conversations::Conversations;
use events::Events;
use invoices::Invoices;
use messages::Messages;
use requests::Requests;
use rusqlite::Connection;
use sessions::Sessions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wallets::Wallets;

/// Schema migrations, in order; `PRAGMA user_version` records how many a file has had.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("payments.sql"),
    include_str!("commerce.sql"),
    include_str!("security.sql"),
    include_str!("sessions.sql"),
    include_str!("references.sql"),
];

/// The schema version this build writes.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a connection waits for a lock before failing (checkpoints, a concurrent admin).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection; the writer runs a few dozen distinct ones.
const STATEMENT_CACHE: usize = 128;

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {path} has schema version {found}, newer than this quid ({SCHEMA_VERSION})")]
    TooNew { path: PathBuf, found: i64 },
    #[error("cannot start the store writer thread: {0}")]
    WriterThread(std::io::Error),
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
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
    path: PathBuf,
    idle_readers: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Arc<Store>, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let store = Store {
            path: path.to_owned(),
            idle_readers: Mutex::new(Vec::new()),
        };
        let conn = store.connect()?;
        migrate(&conn).map_err(|e| match e {
            MigrateError::Sql(source) => StoreError::Open {
                path: path.to_owned(),
                source,
            },
            MigrateError::TooNew(found) => StoreError::TooNew {
                path: path.to_owned(),
                found,
            },
        })?;
        Ok(Arc::new(store))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new connection with quid's pragmas. Durability: WAL with `synchronous=FULL`, so a
    /// commit has reached the disk when it returns.
    pub fn connect(&self) -> Result<Connection, StoreError> {
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(&self.path)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            // Each request runs in a savepoint, whose journal would otherwise go to a temp
            // file: a write syscall per page touched. In memory it costs a copy.
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            // Keep each cached statement's plan: without this, SQLite may re-prepare a
            // statement whenever a new value is bound to a parameter its planner looked at,
            // which a profile showed costing the writer a quarter of its time.
            conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )?;
            Ok(conn)
        };
        open().map_err(|source| StoreError::Open {
            path: self.path.clone(),
            source,
        })
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

    /// Runs a read on the calling thread. For callers that are already off the async threads,
    /// or whose query is a single primary-key lookup.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&dyn Backend) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let pooled = self.lock_idle().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.connect().map_err(|e| {
                tracing::error!(error = %e, "cannot open read connection");
                ApiError::internal()
            })?,
        };
        let result = f(&conn);
        let mut idle = self.lock_idle();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while holding this lock leaves only a list of connections behind: still valid.
        self.idle_readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

enum MigrateError {
    Sql(rusqlite::Error),
    TooNew(i64),
}

fn migrate(conn: &Connection) -> Result<(), MigrateError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(MigrateError::Sql)?;
    if version > SCHEMA_VERSION {
        return Err(MigrateError::TooNew(version));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let apply = format!(
            "BEGIN; {migration} PRAGMA user_version = {}; COMMIT;",
            index + 1
        );
        conn.execute_batch(&apply).map_err(MigrateError::Sql)?;
    }
    Ok(())
}

/// Statements prepared once per connection and reused. Parsing SQL anew on every call cost
/// the writer more than running it (a profile of the payment path: 40% of its time).
pub trait Cached {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Current time as stored in the database.
pub(crate) fn now_ms() -> i64 {
    crate::protocol::TimestampMs::now().0
}
