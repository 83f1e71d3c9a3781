//! Moving the WAL's pages into the database file, off the writer. SQLite's automatic
//! checkpoint runs inside the commit that crosses its threshold, so the writer (and every
//! request in that batch) waited for it: an eighth of the writer's time in a profile of the
//! payment path. The writer turns it off and this thread checkpoints instead, passively (it
//! never blocks the writer or a reader), every [`INTERVAL`].

use std::sync::mpsc;
use std::time::Duration;

/// How often the WAL is checkpointed.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Runs until `stop` is dropped (or sent to), checkpointing `conn` every [`INTERVAL`].
pub fn run(conn: rusqlite::Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(INTERVAL) {
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "checkpoint failed; the WAL grows until the next one works");
        }
    }
}
