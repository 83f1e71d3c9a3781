//! The PostgreSQL backend, for several server nodes on one database (issue 11): the schema and
//! its migrations, applied at start by whichever node comes first; the whole of
//! `store::Backend` on a transaction (`PgTx`), held to the same contracts as SQLite's by
//! `tests/server/backends.rs`; connections for reads and one-off writes; and the writer's batches
//! (`BatchConnection`), so that `store::writer::Writer` runs on PostgreSQL with a savepoint per
//! request.
//!
//! Each node runs several writers, a request per transaction, side by side with every other
//! node's. Correctness rests on the database: balances change by conditional updates, status
//! changes are `WHERE status = 'open'`, keys are unique, and a user's seq comes from a counter
//! row locked until commit. Progress rests on one lock order: a request takes wallets (in id
//! order) before event streams (users' counter rows, in id order), with `FOR NO KEY UPDATE`,
//! which does not wait for the key-share locks that foreign keys take. A deadlock PostgreSQL
//! still breaks, or a unique row another transaction inserted first, marks the transaction
//! (`PgTx::conflicted`) and the writer runs the request again.
//!
//! The driver is `postgres`, rust-postgres's blocking client over tokio-postgres: the store's
//! seam is synchronous because requests run on writer threads in batches, one savepoint each,
//! and this backend is to keep that shape. Its calls must not run on an async thread (it
//! drives a runtime of its own), so the server calls them from blocking threads only.

mod bills;
mod chat;
mod devices;
mod files;
mod funding;
mod migrations;
pub mod notify;
mod search;
mod sessions;
mod users;
mod wallets;

use super::Backend;
use super::wallets::AccountId;
use super::writer::{BatchConnection, BatchTx, Durability, WriteCtx};
use crate::money::Currency;
use crate::protocol::{ApiError, UserId};
pub use migrations::{OpenError, migrate, open};
use notify::NodeId;
use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;

/// A connection and the statements prepared on it.
pub struct PgConn {
    client: postgres::Client,
    statements: Statements,
}

impl PgConn {
    pub fn connect(config: &postgres::Config) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: config.connect(postgres::NoTls)?,
            statements: Statements::default(),
        })
    }

    /// A connection for a writer. Its statements are a handful of shapes run many thousand
    /// times with keys that select a row or a few, so each runs on its generic plan: the
    /// default plans each call anew for as long as a custom plan looks cheaper (in the
    /// payments benchmark, 9,743 plans in a 6 s run; docs/PERFORMANCE.md).
    /// Readers keep the default: a history page or a search may well want a custom plan.
    pub fn connect_writer(config: &postgres::Config) -> Result<PgConn, postgres::Error> {
        let mut conn = Self::connect(config)?;
        conn.client
            .batch_execute("SET plan_cache_mode = force_generic_plan")?;
        Ok(conn)
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// Statements prepared once per connection and reused: a statement given as text is parsed
/// by PostgreSQL on each call, a round trip of its own (half of a payment's round trips).
#[derive(Default)]
pub struct Statements(RefCell<HashMap<String, postgres::Statement>>);

/// Distinct statements kept per connection; more than this (never, in practice) starts over.
const MAX_STATEMENTS: usize = 512;

/// A PostgreSQL transaction as the store's traits see it. The traits take `&self`, as SQLite's
/// connection does; PostgreSQL's client wants `&mut`, hence the cell (a transaction is used by
/// one request on one thread at a time). It begins and ends the transaction itself, rather
/// than through the driver's `Transaction`, so that its notices to the other nodes go with
/// the COMMIT in one round trip; dropped open (a panic, an error), it rolls back.
pub struct PgTx<'a> {
    client: RefCell<&'a mut postgres::Client>,
    statements: &'a Statements,
    /// Begun and not yet committed or rolled back.
    open: Cell<bool>,
    /// `NOTIFY` statements for the other nodes, sent with the COMMIT.
    notices: RefCell<String>,
    /// Who announces the events this transaction commits.
    node: NodeId,
    /// A statement failed because PostgreSQL broke a deadlock (or a serialization conflict).
    conflicted: Cell<bool>,
    /// Whether each request runs in a savepoint of its own; else the transaction holds one
    /// request, and undoing it is rolling the transaction back.
    savepoints: bool,
    /// The request was undone: the transaction is to roll back, not commit.
    undone: Cell<bool>,
    /// What the request already looked up and locked, not to ask PostgreSQL twice.
    held: Held,
}

/// Wallets a transaction looked up and accounts it locked: a payment asks for both early
/// (to take locks in a fixed order) and again where the money moves, and each time was a
/// round trip. Forgotten when a request is rolled back, which undoes its locks and wallets.
#[derive(Default)]
struct Held {
    wallets: RefCell<Vec<(UserId, Currency, AccountId)>>,
    locked: RefCell<Vec<AccountId>>,
}

impl Held {
    fn wallet(&self, user: UserId, currency: Currency) -> Option<AccountId> {
        let wallets = self.wallets.borrow();
        wallets
            .iter()
            .find(|(u, c, _)| *u == user && *c == currency)
            .map(|(_, _, id)| *id)
    }

    fn found_wallet(&self, user: UserId, currency: Currency, id: AccountId) {
        self.wallets.borrow_mut().push((user, currency, id));
    }

    fn holds(&self, accounts: &[AccountId]) -> bool {
        let locked = self.locked.borrow();
        accounts.iter().all(|account| locked.contains(account))
    }

    fn locked(&self, accounts: &[AccountId]) {
        self.locked.borrow_mut().extend_from_slice(accounts);
    }

    fn forget(&self) {
        self.wallets.borrow_mut().clear();
        self.locked.borrow_mut().clear();
    }
}

impl<'a> PgTx<'a> {
    /// Begins a transaction on `conn` with `begin` (`BEGIN` and its options), preparing its
    /// statements in the connection's cache, announcing as `node`.
    fn begin(conn: &'a mut PgConn, begin: &str, node: NodeId) -> Result<PgTx<'a>, postgres::Error> {
        Self::start(&mut conn.client, &conn.statements, begin, node)
    }

    /// Begins a plain transaction on `client`, preparing its statements in `statements`
    /// (which belongs to `client`'s connection).
    pub fn begin_on(
        client: &'a mut postgres::Client,
        statements: &'a Statements,
    ) -> Result<PgTx<'a>, postgres::Error> {
        Self::start(client, statements, "BEGIN", NodeId(0))
    }

    fn start(
        client: &'a mut postgres::Client,
        statements: &'a Statements,
        begin: &str,
        node: NodeId,
    ) -> Result<PgTx<'a>, postgres::Error> {
        client.batch_execute(begin)?;
        Ok(PgTx {
            client: RefCell::new(client),
            statements,
            open: Cell::new(true),
            notices: RefCell::new(String::new()),
            node,
            conflicted: Cell::new(false),
            savepoints: true,
            undone: Cell::new(false),
            held: Held::default(),
        })
    }

    /// Commits, the notices to the other nodes in the same round trip: PostgreSQL delivers
    /// them when (and only if) the commit is durable.
    pub fn commit(self) -> Result<(), postgres::Error> {
        let ending = format!("{}COMMIT", self.notices.take());
        self.end(&ending)
    }

    fn roll_back_all(self) -> Result<(), postgres::Error> {
        self.end("ROLLBACK")
    }

    /// Ends the transaction with `sql`. If that fails (a notice refused, the commit refused)
    /// the transaction is still open as far as this side knows, and dropping rolls it back.
    fn end(self, sql: &str) -> Result<(), postgres::Error> {
        self.client.borrow_mut().batch_execute(sql)?;
        self.open.set(false);
        Ok(())
    }

    /// Queues `NOTIFY channel, 'payload'` for the commit.
    fn notify(&self, channel: &str, payload: &str) {
        let payload = payload.replace('\'', "''");
        self.notices
            .borrow_mut()
            .push_str(&format!("NOTIFY {channel}, '{payload}'; "));
    }

    fn tx(&self) -> Calls<'_, 'a> {
        Calls {
            tx: self.client.borrow_mut(),
            statements: self.statements,
            conflicted: &self.conflicted,
        }
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open.get() {
            // Best effort: a connection that broke is replaced before its next transaction.
            let _ = self.client.get_mut().batch_execute("ROLLBACK");
        }
    }
}

/// The transaction's calls, each statement prepared once per connection.
struct Calls<'t, 'a> {
    tx: RefMut<'t, &'a mut postgres::Client>,
    statements: &'t Statements,
    conflicted: &'t Cell<bool>,
}

type Params<'p> = [&'p (dyn postgres::types::ToSql + Sync)];

impl Calls<'_, '_> {
    fn prepared(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(statement) = self.statements.0.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql)?;
        let mut cache = self.statements.0.borrow_mut();
        if cache.len() >= MAX_STATEMENTS {
            cache.clear();
        }
        cache.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn query(&mut self, sql: &str, params: &Params) -> Result<Vec<postgres::Row>, postgres::Error> {
        let statement = self.prepared(sql)?;
        let result = self.tx.query(&statement, params);
        self.noting_conflicts(result)
    }

    fn query_one(&mut self, sql: &str, params: &Params) -> Result<postgres::Row, postgres::Error> {
        let statement = self.prepared(sql)?;
        let result = self.tx.query_one(&statement, params);
        self.noting_conflicts(result)
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: &Params,
    ) -> Result<Option<postgres::Row>, postgres::Error> {
        let statement = self.prepared(sql)?;
        let result = self.tx.query_opt(&statement, params);
        self.noting_conflicts(result)
    }

    fn execute(&mut self, sql: &str, params: &Params) -> Result<u64, postgres::Error> {
        let statement = self.prepared(sql)?;
        let result = self.tx.execute(&statement, params);
        self.noting_conflicts(result)
    }

    /// Marks the transaction when PostgreSQL refused a statement because of another
    /// transaction (a deadlock broken, or a row another transaction inserted first, which the
    /// request looked for and did not see), so that the writer runs the request again: the
    /// second run sees what the other committed.
    fn noting_conflicts<T>(
        &self,
        result: Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        use postgres::error::SqlState;
        if let Err(error) = &result
            && matches!(
                error.code(),
                Some(
                    &SqlState::T_R_DEADLOCK_DETECTED
                        | &SqlState::T_R_SERIALIZATION_FAILURE
                        | &SqlState::UNIQUE_VIOLATION
                )
            )
        {
            self.conflicted.set(true);
        }
        result
    }

    /// Unprepared: for statements without parameters (savepoints).
    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.tx.batch_execute(sql)
    }
}

impl BatchTx for PgTx<'_> {
    fn savepoint(&self) -> Result<(), ApiError> {
        if self.savepoints {
            self.tx().batch_execute("SAVEPOINT request")?;
        }
        Ok(())
    }

    fn release(&self) -> Result<(), ApiError> {
        if self.savepoints {
            self.tx().batch_execute("RELEASE SAVEPOINT request")?;
        }
        Ok(())
    }

    fn before_commit(&self, deliveries: &[super::writer::Delivery]) -> Result<(), ApiError> {
        if self.undone.get() {
            return Ok(());
        }
        notify::announce_events(self, deliveries)
    }

    fn conflicted(&self) -> bool {
        self.conflicted.get()
    }

    fn roll_back(&self) -> Result<(), ApiError> {
        self.held.forget();
        if !self.savepoints {
            // The transaction's one request: rolling the transaction back undoes it.
            self.undone.set(true);
            return Ok(());
        }
        // Also what clears a statement's error: PostgreSQL refuses every later statement of
        // a transaction until it rolls back to before the failure.
        self.tx()
            .batch_execute("ROLLBACK TO SAVEPOINT request; RELEASE SAVEPOINT request")?;
        Ok(())
    }
}

/// A writer's connection: each batch is one transaction, committed before anyone is told.
/// A lost connection (PostgreSQL restarted, a network cut) fails the batch it was in; the next
/// batch connects anew.
pub struct PgWriter {
    config: postgres::Config,
    conn: Option<PgConn>,
    node: NodeId,
    batch: Batch,
}

/// What a writer's transaction holds.
#[derive(Clone, Copy)]
pub enum Batch {
    /// One request: several writers run side by side, and a transaction that held the locks
    /// of several requests would wait on (and deadlock with) far more.
    One,
    /// Whatever waits in a lane: its requests each lock one conversation, in id order.
    Lane,
}

impl PgWriter {
    pub fn new(config: postgres::Config, conn: PgConn, node: NodeId, batch: Batch) -> PgWriter {
        PgWriter {
            config,
            conn: Some(conn),
            node,
            batch,
        }
    }

    fn conn(&mut self) -> Result<&mut PgConn, ApiError> {
        if self.conn.as_ref().is_none_or(PgConn::is_closed) {
            self.conn = Some(PgConn::connect_writer(&self.config)?);
        }
        self.conn.as_mut().ok_or_else(ApiError::internal)
    }
}

impl BatchConnection for PgWriter {
    fn max_batch(&self) -> usize {
        match self.batch {
            Batch::One => 1,
            Batch::Lane => super::writer::MAX_BATCH,
        }
    }

    fn in_transaction(
        &mut self,
        run: &mut dyn FnMut(&dyn BatchTx),
    ) -> Result<Durability, ApiError> {
        let (node, batch) = (self.node, self.batch);
        let ran = std::cell::Cell::new(false);
        let mut run = |tx: &dyn BatchTx| {
            ran.set(true);
            run(tx);
        };
        let result = transact(self.conn()?, node, batch, &mut run);
        // A connection that broke while idle (PostgreSQL restarted) shows it only when the
        // transaction begins, before anything ran: the batch goes to a new connection.
        if result.is_err() && !ran.get() && self.conn.as_ref().is_some_and(PgConn::is_closed) {
            return transact(self.conn()?, node, batch, &mut run);
        }
        result
    }
}

/// Runs one batch in one transaction on `conn`.
fn transact(
    conn: &mut PgConn,
    node: NodeId,
    batch: Batch,
    run: &mut dyn FnMut(&dyn BatchTx),
) -> Result<Durability, ApiError> {
    let mut tx = writing_transaction(conn, node)?;
    // A transaction of one request needs no savepoint: two round trips fewer.
    tx.savepoints = matches!(batch, Batch::Lane);
    run(&tx);
    if tx.undone.get() {
        tx.roll_back_all()?;
    } else {
        tx.commit()?;
    }
    // PostgreSQL's commit returns once its WAL is flushed (synchronous_commit).
    Ok(Durability::Committed)
}

/// A transaction for a write, announcing as `node`.
fn writing_transaction(conn: &mut PgConn, node: NodeId) -> Result<PgTx<'_>, ApiError> {
    Ok(PgTx::begin(conn, "BEGIN", node)?)
}

/// Runs `f` in one writing transaction on `client`: `quid admin`'s writes. The nodes hear of
/// the events it emits, and hand them to their live clients.
pub fn write_once<T>(
    conn: &mut PgConn,
    node: NodeId,
    f: impl FnOnce(&mut WriteCtx) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let tx = writing_transaction(conn, node)?;
    let (value, deliveries) = super::writer::apply(&tx, f)?;
    tx.before_commit(&deliveries)?;
    tx.commit()?;
    Ok(value)
}

/// Runs `f` in a transaction of its own, so that its queries see one snapshot's rows.
pub fn read<T>(
    conn: &mut PgConn,
    f: impl FnOnce(&dyn Backend) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let tx = PgTx::begin(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ", NodeId(0))?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

impl From<postgres::Error> for ApiError {
    fn from(error: postgres::Error) -> Self {
        if is_unreachable(&error) {
            tracing::warn!(%error, "PostgreSQL cannot be reached");
            return ApiError::unavailable();
        }
        match error.as_db_error() {
            // PostgreSQL's own words, and its code: what a "db error" alone never says.
            Some(db) => tracing::error!(
                code = db.code().code(),
                message = db.message(),
                detail = db.detail().unwrap_or_default(),
                "store failure (PostgreSQL)"
            ),
            None => tracing::error!(%error, "store failure (PostgreSQL)"),
        }
        ApiError::internal()
    }
}

/// Whether `error` says the database is away (down, restarting, the connection cut) rather
/// than that a statement failed: the same request will succeed once it is back.
pub fn is_unreachable(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        // Class 08: connection exceptions; 57P01-57P03: shut down, crashed, starting up.
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    // No answer from PostgreSQL at all: the connection could not be made or broke.
    std::error::Error::source(error).is_some_and(|cause| cause.is::<std::io::Error>())
}

/// The advisory lock keys of conversations: the id with this bit set, apart from every other
/// lock quid takes.
pub(super) const CONVERSATION_LOCKS: i64 = 1 << 48;
