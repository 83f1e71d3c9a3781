//! `Sessions` and `Events` on SQLite: the same contracts as PostgreSQL's.

use crate::protocol::{ApiError, ConversationId, Event, Position, Seq, TimestampMs, User, UserId};
use crate::store::accounts::USER_COLUMNS;
use crate::store::conversations::Conversations;
use crate::store::events::{
    CONVERSATION_EVENTS_FOR, Stored, WINDOWS_OF, Window, columns, decode, with_members,
};
use crate::store::messages::Messages;
use crate::store::sessions::SESSION_ID_CHARS;
use crate::store::sqlite::users::user_from_row;
use crate::store::{Cached, Events, Sessions};
use rusqlite::{Connection, OptionalExtension};

impl Sessions for Connection {
    fn insert_token(
        &self,
        token_hash: &str,
        user: UserId,
        at: TimestampMs,
    ) -> Result<(), ApiError> {
        self.execute_cached(
            "INSERT INTO tokens (token_hash, user_id, created_at_ms) VALUES (?1, ?2, ?3)",
            rusqlite::params![token_hash, user.0, at.0],
        )?;
        Ok(())
    }

    fn delete_token(&self, token_hash: &str) -> Result<bool, ApiError> {
        let deleted =
            self.execute_cached("DELETE FROM tokens WHERE token_hash = ?1", [token_hash])?;
        Ok(deleted > 0)
    }

    fn log_revocation(
        &self,
        token_hash: &str,
        at: TimestampMs,
        forget_before: TimestampMs,
    ) -> Result<(), ApiError> {
        self.execute_cached(
            "INSERT INTO token_revocations (token_hash, revoked_at_ms) VALUES (?1, ?2)",
            rusqlite::params![token_hash, at.0],
        )?;
        self.execute_cached(
            "DELETE FROM token_revocations WHERE revoked_at_ms < ?1",
            [forget_before.0],
        )?;
        Ok(())
    }

    fn token_hashes_of(&self, user: UserId) -> Result<Vec<String>, ApiError> {
        let mut statement =
            self.prepare_cached("SELECT token_hash FROM tokens WHERE user_id = ?1")?;
        let hashes = statement
            .query_map([user.0], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(hashes)
    }

    fn touch_token(
        &self,
        token_hash: &str,
        at: TimestampMs,
        address: &str,
    ) -> Result<bool, ApiError> {
        let updated = self.execute_cached(
            "UPDATE tokens SET last_used_at_ms = ?2, last_address = ?3 WHERE token_hash = ?1",
            rusqlite::params![token_hash, at.0, address],
        )?;
        Ok(updated > 0)
    }

    fn last_revocation(&self) -> Result<i64, ApiError> {
        Ok(self.query_row_cached(
            "SELECT COALESCE(MAX(id), 0) FROM token_revocations",
            [],
            |row| row.get(0),
        )?)
    }

    fn revocations_after(&self, after: i64) -> Result<Vec<(i64, String)>, ApiError> {
        let mut statement = self.prepare_cached(
            "SELECT id, token_hash FROM token_revocations WHERE id > ?1 ORDER BY id LIMIT 1000",
        )?;
        let rows = statement
            .query_map([after], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn sessions_of(
        &self,
        user_id: UserId,
        current_hash: Option<&str>,
    ) -> Result<Vec<crate::protocol::results::SessionInfo>, ApiError> {
        use crate::protocol::TimestampMs;
        let mut statement = self.prepare(
            "SELECT token_hash, created_at_ms, last_used_at_ms, last_address FROM tokens
             WHERE user_id = ?1 ORDER BY COALESCE(last_used_at_ms, created_at_ms) DESC",
        )?;
        let sessions = statement
            .query_map([user_id.0], |row| {
                let hash: String = row.get(0)?;
                Ok(crate::protocol::results::SessionInfo {
                    id: hash[..SESSION_ID_CHARS.min(hash.len())].to_owned(),
                    current: current_hash == Some(hash.as_str()),
                    created_at: TimestampMs(row.get(1)?),
                    last_used_at: row.get::<_, Option<i64>>(2)?.map(TimestampMs),
                    last_address: row.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(sessions)
    }

    fn user_for_token(&self, token_hash: &str) -> Result<Option<(User, TimestampMs)>, ApiError> {
        let sql = format!(
            "SELECT COALESCE(t.last_used_at_ms, t.created_at_ms), {USER_COLUMNS}
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1"
        );
        Ok(self
            .query_row_cached(&sql, [token_hash], |row| {
                Ok((user_from_row(row, 1)?, TimestampMs(row.get(0)?)))
            })
            .optional()?)
    }
}

impl Events for Connection {
    fn append_event(&self, user_id: UserId, event: &Stored) -> Result<Seq, ApiError> {
        let seq: i64 = self
            .prepare_cached(
                "UPDATE users SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
            )?
            .query_row([user_id.0], |row| row.get(0))?;
        let (body, message_id) = columns(event);
        self.prepare_cached(
            "INSERT INTO events (user_id, seq, body, message_id) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(rusqlite::params![user_id.0, seq, body, message_id])?;
        Ok(Seq(seq))
    }

    fn append_conversation_event(
        &self,
        conversation_id: ConversationId,
        event: &Stored,
    ) -> Result<Position, ApiError> {
        let pos: i64 = self
            .prepare_cached(
                "UPDATE conversations SET last_pos = last_pos + 1 WHERE id = ?1 RETURNING last_pos",
            )?
            .query_row([conversation_id.0], |row| row.get(0))?;
        let (body, message_id) = columns(event);
        self.prepare_cached(
            "INSERT INTO conversation_events (conversation_id, pos, body, message_id)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(rusqlite::params![conversation_id.0, pos, body, message_id])?;
        Ok(Position(pos))
    }

    fn windows_of(&self, user_id: UserId) -> Result<Vec<Window>, ApiError> {
        let mut statement = self.prepare_cached(WINDOWS_OF)?;
        let windows = statement
            .query_map([user_id.0], |row| {
                Ok(Window {
                    conversation_id: ConversationId(row.get(0)?),
                    joined: Position(row.get(1)?),
                    left: row.get::<_, Option<i64>>(2)?.map(Position),
                    last: Position(row.get(3)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(windows)
    }

    fn conversation_events_for(
        &self,
        user_id: UserId,
        conversation_id: ConversationId,
        after: Position,
        limit: u32,
    ) -> Result<Vec<(Position, Event)>, ApiError> {
        let mut statement = self.prepare_cached(CONVERSATION_EVENTS_FOR)?;
        let rows = statement
            .query_map(
                rusqlite::params![user_id.0, conversation_id.0, after.0, limit],
                stream_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(pos, body, message_id)| {
                let event = decode(conversation_id, pos, body, message_id, |id| {
                    self.message(id)
                })?;
                Ok((Position(pos), event))
            })
            .collect()
    }

    fn conversation_events_between(
        &self,
        wanted: &[(ConversationId, Position, Position)],
    ) -> Result<Vec<(ConversationId, Position, Event)>, ApiError> {
        let mut found = Vec::new();
        let mut statement = self.prepare_cached(
            "SELECT pos, body, message_id FROM conversation_events
             WHERE conversation_id = ?1 AND pos BETWEEN ?2 AND ?3 ORDER BY pos",
        )?;
        for &(conversation_id, first, last) in wanted {
            let rows = statement
                .query_map(
                    rusqlite::params![conversation_id.0, first.0, last.0],
                    stream_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            for (pos, body, message_id) in rows {
                let event = decode(conversation_id, pos, body, message_id, |id| {
                    self.message(id)
                })?;
                found.push((conversation_id, Position(pos), event));
            }
        }
        Ok(found)
    }

    fn events_after(
        &self,
        user_id: UserId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<(Seq, Event)>, ApiError> {
        let mut statement = self.prepare_cached(
            "SELECT seq, body, message_id FROM events
             WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = statement
            .query_map(rusqlite::params![user_id.0, after.0, limit], stream_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, body, message_id)| {
                let event = decode(user_id, seq, body, message_id, |id| self.message(id))?;
                Ok((Seq(seq), with_members(event, |id| self.members(id))?))
            })
            .collect()
    }

    fn latest_seq(&self, user_id: UserId) -> Result<Seq, ApiError> {
        let seq = self.query_row_cached(
            "SELECT last_seq FROM users WHERE id = ?1",
            [user_id.0],
            |row| row.get(0),
        )?;
        Ok(Seq(seq))
    }
}

/// A stream row: its seq or position, body and message.
fn stream_row(row: &rusqlite::Row) -> rusqlite::Result<(i64, Option<String>, Option<i64>)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}
