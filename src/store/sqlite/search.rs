//! `Search` on SQLite (FTS5): the same contract as PostgreSQL's.

use crate::protocol::{ApiError, MessageId, UserId};
use crate::store::Search;
use crate::store::search::{RANKED_WINDOW, SearchFilter, fts5_query};
use rusqlite::Connection;

impl Search for Connection {
    fn newest_matches(
        &self,
        reader: UserId,
        filter: &SearchFilter,
    ) -> Result<Vec<(MessageId, String)>, ApiError> {
        // FTS5 walks its lists newest first for `ORDER BY rowid DESC`, and stops at the limit.
        let sql = format!(
            "SELECT m.id, m.text FROM message_words f
             JOIN messages m ON m.id = f.rowid
             JOIN members mb ON mb.conversation_id = m.conversation_id
                 AND mb.user_id = ?2 AND mb.active = 1
             WHERE message_words MATCH ?1
                 AND (?3 IS NULL OR m.conversation_id = ?3)
                 AND (?4 IS NULL OR m.sender_id = ?4)
             ORDER BY f.rowid DESC LIMIT {RANKED_WINDOW}"
        );
        let rows = self
            .prepare_cached(&sql)?
            .query_map(
                rusqlite::params![
                    fts5_query(filter.query),
                    reader.0,
                    filter.conversation_id.map(|c| c.0),
                    filter.sender.map(|u| u.0),
                ],
                |row| Ok((MessageId(row.get(0)?), row.get(1)?)),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
