//! The SQLite backend, the embedded default: one database file in WAL mode, its schema
//! migrations, the pragmas every connection gets, and the cache of prepared statements. The
//! store's traits are implemented on `rusqlite::Connection` beside their tables.

mod bills;
mod chat;
mod devices;
mod files;
mod funding;
mod search;
mod sessions;
pub(crate) mod users;
mod wallets;

use super::StoreError;
use super::writer::{BatchConnection, BatchTx, Durability};
use crate::protocol::ApiError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Schema migrations, in order; `PRAGMA user_version` records how many a file has had.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("payments.sql"),
    include_str!("commerce.sql"),
    include_str!("security.sql"),
    include_str!("sessions.sql"),
    include_str!("references.sql"),
    include_str!("search.sql"),
    include_str!("chat.sql"),
    include_str!("mentions.sql"),
    include_str!("secret.sql"),
    include_str!("timers.sql"),
    include_str!("funding.sql"),
    include_str!("pin_locks.sql"),
    include_str!("streams.sql"),
    include_str!("words.sql"),
    include_str!("files.sql"),
];

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a connection waits for a lock before failing (checkpoints, a concurrent admin).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection; the writer runs a few dozen distinct ones.
const STATEMENT_CACHE: usize = 128;

/// Creates the file (and its folder) if needed and brings its schema up to date.
pub(super) fn create(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let conn = connect(path)?;
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
    Ok(conn)
}

/// A new connection with quid's pragmas. Durability: WAL with `synchronous=FULL`, so a
/// commit has reached the disk when it returns.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let open = || -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Each request runs in a savepoint, whose journal would otherwise go to a temp
        // file: a write syscall per page touched. In memory it costs a copy.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        register_quid_words(&conn)?;
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
        path: path.to_owned(),
        source,
    })
}

/// The writer's connection: a large page cache (64 MiB), so a busy batch does not spill
/// pages to the WAL before it commits (readers keep SQLite's default), and checkpoints run by
/// a thread of their own rather than by the writer (docs/PERFORMANCE.md).
pub(super) fn connect_writer(path: &Path) -> Result<Box<dyn BatchConnection>, StoreError> {
    let mut conn = connect(path)?;
    let checkpoints = Checkpointer::start(connect(path)?)?;
    let opened = conn
        .pragma_update(None, "cache_size", -65_536)
        // The commit writes the WAL; the writer's sync thread flushes it (`SqliteWriter`).
        .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
        .and_then(|()| bound_the_wal(&mut conn, WalLimits::DEFAULT, checkpoints));
    opened.map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    // The connection has the database open in WAL mode, so its WAL exists, and goes on
    // existing while the connection is open.
    let wal_path = wal_path(path);
    let wal = std::fs::File::open(&wal_path).map_err(|source| StoreError::OpenWal {
        path: wal_path,
        source,
    })?;
    Ok(Box::new(SqliteWriter {
        conn,
        flush: Arc::new(move || wal.sync_data()),
    }))
}

fn wal_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// The writer's connection and its WAL. Its commits do not wait for the disk
/// (`synchronous=NORMAL`); the writer's sync thread flushes the WAL once for every batch
/// committed meanwhile and only then answers their callers and publishes their events, while
/// the next batch runs. A batch is durable before anyone is told of it, as with
/// `synchronous=FULL`, but a reader may see it up to one flush earlier; after a power cut,
/// SQLite drops whatever the last flush had not reached, and nobody was told of that.
struct SqliteWriter {
    conn: Connection,
    /// Flushes the WAL file.
    flush: super::writer::Flush,
}

impl BatchConnection for SqliteWriter {
    fn in_transaction(
        &mut self,
        run: &mut dyn FnMut(&dyn BatchTx),
    ) -> Result<Durability, ApiError> {
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads first
        // fails at once with SQLITE_BUSY (not waiting) when another process, such as
        // `quid admin`, wrote between its first read and its first write.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        run(&*tx);
        tx.commit()?;
        Ok(Durability::AfterSync(Arc::clone(&self.flush)))
    }
}

/// When the WAL is checkpointed, in frames it holds after a commit.
#[derive(Clone, Copy)]
struct WalLimits {
    /// The checkpoint thread copies the WAL into the database: a page written many times in
    /// that while is copied once. SQLite's default is 1,000.
    background: i32,
    /// The writer finishes the checkpoint itself, between two of its transactions. A
    /// background checkpoint never catches a writer that never pauses, and SQLite starts the
    /// WAL over only once every frame is in the database: without this the file grew by every
    /// page ever written (1.5 GB in 7 s of payments). Most frames are already copied by then,
    /// so the writer copies only the tail.
    restart: i32,
}

impl WalLimits {
    const DEFAULT: WalLimits = WalLimits {
        background: 10_000,
        restart: 20_000,
    };
}

/// Replaces SQLite's automatic checkpoint (which is a WAL hook too) with `limits`.
fn bound_the_wal(
    conn: &mut Connection,
    limits: WalLimits,
    checkpoints: Checkpointer,
) -> rusqlite::Result<()> {
    conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, frames| {
        if frames >= limits.restart {
            finish_checkpoint(wal);
        } else if frames >= limits.background {
            checkpoints.wake();
        }
        Ok(())
    }))
}

/// Copies what is left of the WAL into the database on the writer's own connection, so the
/// next transaction can start the WAL over.
fn finish_checkpoint(wal: &mut rusqlite::hooks::Wal) {
    match wal.checkpoint_v2(rusqlite::wal::CheckpointMode::PASSIVE) {
        Ok(_) => {}
        // The checkpoint thread is at it: the next commit tries again.
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy => {}
        Err(error) => tracing::warn!(%error, "WAL checkpoint failed; the next commit retries"),
    }
}

/// The thread that copies what the writer commits from the WAL into the database file. A
/// checkpoint on the writer's own thread (SQLite's automatic one) held up the batch behind
/// it: a profile of payments showed a tenth of the writer's time there. The thread ends
/// when the writer's connection is dropped.
struct Checkpointer(std::sync::mpsc::SyncSender<()>);

impl Checkpointer {
    fn start(conn: Connection) -> Result<Checkpointer, StoreError> {
        // One wake-up waiting is enough: a checkpoint copies every frame committed before it.
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("quid-store-checkpoint".into())
            .spawn(move || {
                for () in woken {
                    // PASSIVE never waits for the writer or readers; what it cannot copy
                    // now, the next one does.
                    if let Err(error) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(%error, "WAL checkpoint failed; the next one retries");
                    }
                }
            })
            .map_err(StoreError::WriterThread)?;
        Ok(Checkpointer(wake))
    }

    fn wake(&self) {
        // Full means a wake-up is already waiting.
        let _ = self.0.try_send(());
    }
}

/// `quid_words(text)`: the words search indexes (`search::index_words`), for the statements
/// that keep the index. Registered on every connection, since any may write.
fn register_quid_words(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "quid_words",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |context| {
            let text: String = context.get(0)?;
            Ok(crate::search::index_words(&text))
        },
    )
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
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    // A migration that rebuilds a table (SQLite cannot change a CHECK in place) drops it
    // while others still refer to it: SQLite's documented way is to turn foreign keys off
    // around it, then check them before committing.
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(MigrateError::Sql)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let apply = format!("BEGIN; {migration} PRAGMA user_version = {};", index + 1);
        conn.execute_batch(&apply).map_err(MigrateError::Sql)?;
        let broken: Option<String> = conn
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()
            .map_err(MigrateError::Sql)?;
        if let Some(table) = broken {
            conn.execute_batch("ROLLBACK").map_err(MigrateError::Sql)?;
            return Err(MigrateError::Sql(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!(
                    "migration {} left a broken reference in table {table}",
                    index + 1
                )),
            )));
        }
        conn.execute_batch("COMMIT").map_err(MigrateError::Sql)?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(MigrateError::Sql)
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

impl BatchTx for Connection {
    // Cached statements: rusqlite's own savepoints parse their SQL on every use, which the
    // writer would pay per request.
    fn savepoint(&self) -> Result<(), ApiError> {
        self.execute_cached("SAVEPOINT request", [])?;
        Ok(())
    }

    fn release(&self) -> Result<(), ApiError> {
        self.execute_cached("RELEASE request", [])?;
        Ok(())
    }

    fn roll_back(&self) -> Result<(), ApiError> {
        self.execute_cached("ROLLBACK TO request", [])?;
        self.execute_cached("RELEASE request", [])?;
        Ok(())
    }

    fn before_commit(&self, _deliveries: &[super::writer::Delivery]) -> Result<(), ApiError> {
        self.execute_cached(INDEX_NEW_MESSAGES, [])?;
        Ok(())
    }
}

/// Indexes the words of every message stored since the index last caught up: once per write
/// batch, after its requests' savepoints, because FTS5 writes out what it holds in memory at
/// every savepoint, and the writer opens one per request (a new index segment per message).
const INDEX_NEW_MESSAGES: &str = "INSERT INTO message_words (rowid, words)
     SELECT id, quid_words(text) FROM messages
     WHERE id > COALESCE((SELECT rowid FROM message_words ORDER BY rowid DESC LIMIT 1), 0)";

#[cfg(test)]
mod tests;
