//! The PostgreSQL backend, for several server nodes on one database (issue 11), growing in
//! steps. So far: the schema and its migrations, applied at start by whichever node comes
//! first; the whole of `store::Backend` on a transaction (`PgTx`), held to the same contracts
//! as SQLite's by `tests/backends.rs`; and the writer's batches (`BatchConnection`), so that
//! `store::writer::Writer` runs on PostgreSQL with a savepoint per request. Not yet: a read
//! pool and `quid serve --db postgres://...` on it, and the nodes' wake-ups (LISTEN/NOTIFY).
//!
//! The driver is `postgres`, rust-postgres's blocking client over tokio-postgres: the store's
//! seam is synchronous because requests run on writer threads in batches, one savepoint each,
//! and this backend is to keep that shape.

mod bills;
mod chat;
mod sessions;
mod users;
mod wallets;

use super::writer::{BatchConnection, BatchTx};
use crate::protocol::ApiError;
use std::cell::{RefCell, RefMut};

/// A PostgreSQL transaction as the store's traits see it. The traits take `&self`, as SQLite's
/// connection does; PostgreSQL's client wants `&mut`, hence the cell (a transaction is used by
/// one request on one thread at a time).
pub struct PgTx<'a> {
    tx: RefCell<postgres::Transaction<'a>>,
}

impl<'a> PgTx<'a> {
    pub fn new(tx: postgres::Transaction<'a>) -> PgTx<'a> {
        PgTx {
            tx: RefCell::new(tx),
        }
    }

    pub fn commit(self) -> Result<(), postgres::Error> {
        self.tx.into_inner().commit()
    }

    fn tx(&self) -> RefMut<'_, postgres::Transaction<'a>> {
        self.tx.borrow_mut()
    }
}

impl BatchTx for PgTx<'_> {
    fn savepoint(&self) -> Result<(), ApiError> {
        self.tx().batch_execute("SAVEPOINT request")?;
        Ok(())
    }

    fn release(&self) -> Result<(), ApiError> {
        self.tx().batch_execute("RELEASE SAVEPOINT request")?;
        Ok(())
    }

    fn roll_back(&self) -> Result<(), ApiError> {
        // Also what clears a statement's error: PostgreSQL refuses every later statement of
        // a transaction until it rolls back to before the failure.
        self.tx()
            .batch_execute("ROLLBACK TO SAVEPOINT request; RELEASE SAVEPOINT request")?;
        Ok(())
    }
}

/// A writer's connection: each batch is one transaction, committed before anyone is told.
impl BatchConnection for postgres::Client {
    fn in_transaction(&mut self, run: &mut dyn FnMut(&dyn BatchTx)) -> Result<(), ApiError> {
        let tx = PgTx::new(self.transaction()?);
        run(&tx);
        tx.commit()?;
        Ok(())
    }
}

impl From<postgres::Error> for ApiError {
    fn from(error: postgres::Error) -> Self {
        tracing::error!(%error, "store failure (PostgreSQL)");
        ApiError::internal()
    }
}

/// Migrations, in order; the `quid_schema` table records how many a database has had.
const MIGRATIONS: &[&str] = &[include_str!("schema.sql")];

/// Any number, the same in every node: the lock that serialises migrations when several
/// nodes start at once.
const MIGRATION_LOCK: i64 = 0x7175_6964; // "quid" in ASCII

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    #[error(
        "the database has schema version {found}, newer than this build knows ({known}); \
         upgrade quid"
    )]
    TooNew { found: i64, known: i64 },
}

/// Brings the database's schema up to this build's version, in one transaction under an
/// advisory lock, so that nodes starting together apply each migration once.
pub fn migrate(client: &mut postgres::Client) -> Result<(), MigrateError> {
    let known = MIGRATIONS.len() as i64;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS quid_schema (version BIGINT NOT NULL)")?;
    let found: i64 = tx
        .query_opt("SELECT version FROM quid_schema", &[])?
        .map_or(0, |row| row.get(0));
    if found > known {
        return Err(MigrateError::TooNew { found, known });
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.batch_execute(migration)?;
    }
    tx.execute("DELETE FROM quid_schema", &[])?;
    tx.execute("INSERT INTO quid_schema (version) VALUES ($1)", &[&known])?;
    tx.commit()?;
    Ok(())
}
