//! Reading a user's durable event stream (writing it is `WriteCtx::emit`).

use crate::protocol::{ApiError, Event, Seq, UserId};
use rusqlite::Connection;

/// Up to `limit` events of `user_id` with seq strictly greater than `after`, ascending.
pub fn events_after(
    conn: &Connection,
    user_id: UserId,
    after: Seq,
    limit: u32,
) -> Result<Vec<(Seq, Event)>, ApiError> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, body FROM events WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = statement.query_map(rusqlite::params![user_id.0, after.0, limit], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (seq, body) = row?;
        let event = serde_json::from_str(&body).map_err(|e| {
            tracing::error!(error = %e, user = %user_id, seq, "stored event does not parse");
            ApiError::internal()
        })?;
        events.push((Seq(seq), event));
    }
    Ok(events)
}

/// The newest seq handed out to `user_id` (0 when none).
pub fn latest_seq(conn: &Connection, user_id: UserId) -> Result<Seq, ApiError> {
    let seq = conn.query_row(
        "SELECT last_seq FROM users WHERE id = ?1",
        [user_id.0],
        |row| row.get(0),
    )?;
    Ok(Seq(seq))
}
