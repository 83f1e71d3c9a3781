//! The schema on PostgreSQL: opening a database brings it up to date, whichever node comes
//! first (the migrations run under an advisory lock), and says once, in PostgreSQL's own
//! words, why it could not.

use super::{PgConn, search};

/// Connects to the database and brings its schema up to date.
pub fn open(config: &postgres::Config) -> Result<PgConn, OpenError> {
    let mut conn = PgConn::connect(config)?;
    migrate(&mut conn.client)?;
    Ok(conn)
}

/// Migrations, in order; the `quid_schema` table records how many a database has had.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("search.sql"),
    include_str!("chat.sql"),
    include_str!("mentions.sql"),
    include_str!("secret.sql"),
    include_str!("timers.sql"),
    include_str!("funding.sql"),
    include_str!("pin_locks.sql"),
    include_str!("streams.sql"),
    include_str!("files.sql"),
];

/// Any number, the same in every node: the lock that serialises migrations when several
/// nodes start at once.
const MIGRATION_LOCK: i64 = 0x7175_6964; // "quid" in ASCII

/// Why a PostgreSQL database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Said once, in PostgreSQL's own words, with what to do where that is known: the
    /// driver's error says "db error" and keeps the words in its source, which a chain of
    /// causes then repeated ("PostgreSQL: db error: PostgreSQL: db error: db error: FATAL").
    #[error("PostgreSQL: {}", in_words(.0))]
    Postgres(postgres::Error),
    #[error(
        "the database has schema version {found}, newer than this build knows ({known}); \
         upgrade quid"
    )]
    TooNew { found: i64, known: i64 },
}

impl From<postgres::Error> for OpenError {
    fn from(error: postgres::Error) -> Self {
        OpenError::Postgres(error)
    }
}

/// `error` as one line: PostgreSQL's message (or the connection's failure), then what to do
/// for the mistakes a new set-up makes.
fn in_words(error: &postgres::Error) -> String {
    use postgres::error::SqlState;
    let Some(db) = error.as_db_error() else {
        let mut line = error.to_string();
        let mut cause = std::error::Error::source(error);
        while let Some(inner) = cause {
            line = format!("{line}: {inner}");
            cause = inner.source();
        }
        if line.contains("Connection refused") {
            line.push_str(" (is PostgreSQL running, and listening on that host and port?)");
        }
        return line;
    };
    let what_to_do = match *db.code() {
        SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            " (create the role: createuser --pwprompt NAME; README, \"Running several nodes\")"
        }
        SqlState::INVALID_CATALOG_NAME => {
            " (create it, owned by quid's role: createdb -O ROLE NAME)"
        }
        SqlState::INVALID_PASSWORD => " (check the password in the database URL)",
        SqlState::INSUFFICIENT_PRIVILEGE => {
            " (the role needs to own the database: createdb -O ROLE NAME, or ALTER DATABASE NAME OWNER TO ROLE)"
        }
        _ => "",
    };
    format!("{}{what_to_do}", db.message())
}

/// Brings the database's schema up to this build's version, in one transaction under an
/// advisory lock, so that nodes starting together apply each migration once.
pub fn migrate(client: &mut postgres::Client) -> Result<(), OpenError> {
    let known = MIGRATIONS.len() as i64;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    // Every node but the first would otherwise log PostgreSQL's notice that the table exists.
    tx.batch_execute(
        "SET LOCAL client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS quid_schema (version BIGINT NOT NULL)",
    )?;
    let found: i64 = tx
        .query_opt("SELECT version FROM quid_schema", &[])?
        .map_or(0, |row| row.get(0));
    if found > known {
        return Err(OpenError::TooNew { found, known });
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.batch_execute(migration)?;
    }
    if found < SEARCH_VERSION && known >= SEARCH_VERSION {
        fill_words(&mut tx)?;
    }
    tx.execute("DELETE FROM quid_schema", &[])?;
    tx.execute("INSERT INTO quid_schema (version) VALUES ($1)", &[&known])?;
    tx.commit()?;
    Ok(())
}

/// The schema version that added the words column search indexes.
const SEARCH_VERSION: i64 = 2;

/// Fills the words of the messages stored before search existed: quid cuts them, not SQL.
fn fill_words(tx: &mut postgres::Transaction) -> Result<(), postgres::Error> {
    let update = tx.prepare("UPDATE messages SET words = $2::text::tsvector WHERE id = $1")?;
    for row in tx.query("SELECT id, text FROM messages", &[])? {
        let words = search::words_vector(row.get(1));
        tx.execute(&update, &[&row.get::<_, i64>(0), &words])?;
    }
    Ok(())
}
