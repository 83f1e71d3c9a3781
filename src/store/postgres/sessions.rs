//! `Sessions` and `Events` on PostgreSQL: the same contracts as SQLite's.

use super::PgTx;
use super::users::user;
use crate::protocol::results::SessionInfo;
use crate::protocol::{ApiError, ConversationId, Event, Position, Seq, TimestampMs, User, UserId};
use crate::store::accounts::USER_COLUMNS;
use crate::store::conversations::Conversations;
use crate::store::events::{
    CONVERSATION_EVENTS_FOR, Events, Stored, WINDOWS_OF, Window, columns, decode, with_members,
};
use crate::store::messages::Messages;
use crate::store::sessions::{SESSION_ID_CHARS, Sessions};

impl Sessions for PgTx<'_> {
    fn insert_token(
        &self,
        token_hash: &str,
        user: UserId,
        at: TimestampMs,
    ) -> Result<(), ApiError> {
        self.tx().execute(
            "INSERT INTO tokens (token_hash, user_id, created_at_ms) VALUES ($1, $2, $3)",
            &[&token_hash, &user.0, &at.0],
        )?;
        Ok(())
    }

    fn delete_token(&self, token_hash: &str) -> Result<bool, ApiError> {
        let deleted = self
            .tx()
            .execute("DELETE FROM tokens WHERE token_hash = $1", &[&token_hash])?;
        Ok(deleted > 0)
    }

    fn log_revocation(
        &self,
        token_hash: &str,
        at: TimestampMs,
        forget_before: TimestampMs,
    ) -> Result<(), ApiError> {
        let mut tx = self.tx();
        tx.execute(
            "INSERT INTO token_revocations (token_hash, revoked_at_ms) VALUES ($1, $2)",
            &[&token_hash, &at.0],
        )?;
        tx.execute(
            "DELETE FROM token_revocations WHERE revoked_at_ms < $1",
            &[&forget_before.0],
        )?;
        Ok(())
    }

    fn token_hashes_of(&self, user: UserId) -> Result<Vec<String>, ApiError> {
        let rows = self.tx().query(
            "SELECT token_hash FROM tokens WHERE user_id = $1",
            &[&user.0],
        )?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    fn touch_token(
        &self,
        token_hash: &str,
        at: TimestampMs,
        address: &str,
    ) -> Result<bool, ApiError> {
        let updated = self.tx().execute(
            "UPDATE tokens SET last_used_at_ms = $2, last_address = $3 WHERE token_hash = $1",
            &[&token_hash, &at.0, &address],
        )?;
        Ok(updated > 0)
    }

    fn last_revocation(&self) -> Result<i64, ApiError> {
        let row = self
            .tx()
            .query_one("SELECT COALESCE(MAX(id), 0) FROM token_revocations", &[])?;
        Ok(row.get(0))
    }

    fn revocations_after(&self, after: i64) -> Result<Vec<(i64, String)>, ApiError> {
        let rows = self.tx().query(
            "SELECT id, token_hash FROM token_revocations WHERE id > $1 ORDER BY id LIMIT 1000",
            &[&after],
        )?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    fn sessions_of(
        &self,
        user_id: UserId,
        current_hash: Option<&str>,
    ) -> Result<Vec<SessionInfo>, ApiError> {
        let rows = self.tx().query(
            "SELECT token_hash, created_at_ms, last_used_at_ms, last_address FROM tokens
             WHERE user_id = $1 ORDER BY COALESCE(last_used_at_ms, created_at_ms) DESC",
            &[&user_id.0],
        )?;
        Ok(rows
            .iter()
            .map(|row| {
                let hash: String = row.get(0);
                SessionInfo {
                    id: hash[..SESSION_ID_CHARS.min(hash.len())].to_owned(),
                    current: current_hash == Some(hash.as_str()),
                    created_at: TimestampMs(row.get(1)),
                    last_used_at: row.get::<_, Option<i64>>(2).map(TimestampMs),
                    last_address: row.get(3),
                }
            })
            .collect())
    }

    fn user_for_token(&self, token_hash: &str) -> Result<Option<(User, TimestampMs)>, ApiError> {
        let sql = format!(
            "SELECT COALESCE(t.last_used_at_ms, t.created_at_ms), {USER_COLUMNS}
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        );
        let row = self.tx().query_opt(&sql, &[&token_hash])?;
        Ok(row.map(|row| (user(&row, 1), TimestampMs(row.get(0)))))
    }
}

impl Events for PgTx<'_> {
    fn append_event(&self, user_id: UserId, event: &Stored) -> Result<Seq, ApiError> {
        let (body, message_id) = columns(event);
        // One statement, one round trip. The row lock the update takes orders the user's
        // appends by commit across nodes.
        let seq: i64 = self
            .tx()
            .query_one(
                "WITH counter AS (
                     UPDATE users SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq)
                 INSERT INTO events (user_id, seq, body, message_id)
                 SELECT $1, last_seq, $2::TEXT, $3::BIGINT FROM counter RETURNING seq",
                &[&user_id.0, &body, &message_id],
            )?
            .get(0);
        Ok(Seq(seq))
    }

    fn append_conversation_event(
        &self,
        conversation_id: ConversationId,
        event: &Stored,
    ) -> Result<Position, ApiError> {
        let (body, message_id) = columns(event);
        // One statement, one round trip. The row lock the update takes orders the
        // conversation's appends by commit across nodes: a member who has read up to a
        // position has seen every one before it.
        let pos: i64 = self
            .tx()
            .query_one(
                "WITH counter AS (
                     UPDATE conversations SET last_pos = last_pos + 1 WHERE id = $1
                     RETURNING last_pos)
                 INSERT INTO conversation_events (conversation_id, pos, body, message_id)
                 SELECT $1, last_pos, $2::TEXT, $3::BIGINT FROM counter RETURNING pos",
                &[&conversation_id.0, &body, &message_id],
            )?
            .get(0);
        Ok(Position(pos))
    }

    fn windows_of(&self, user_id: UserId) -> Result<Vec<Window>, ApiError> {
        let rows = self.tx().query(WINDOWS_OF, &[&user_id.0])?;
        Ok(rows
            .iter()
            .map(|row| Window {
                conversation_id: ConversationId(row.get(0)),
                joined: Position(row.get(1)),
                left: row.get::<_, Option<i64>>(2).map(Position),
                last: Position(row.get(3)),
            })
            .collect())
    }

    fn conversation_events_for(
        &self,
        user_id: UserId,
        conversation_id: ConversationId,
        after: Position,
        limit: u32,
    ) -> Result<Vec<(Position, Event)>, ApiError> {
        let rows = self.tx().query(
            CONVERSATION_EVENTS_FOR,
            &[&user_id.0, &conversation_id.0, &after.0, &i64::from(limit)],
        )?;
        rows.into_iter()
            .map(|row| {
                let pos: i64 = row.get(0);
                let event = decode(conversation_id, pos, row.get(1), row.get(2), |id| {
                    self.message(id)
                })?;
                Ok((Position(pos), event))
            })
            .collect()
    }

    /// One query for every conversation, each message read once.
    fn conversation_events_between(
        &self,
        wanted: &[(ConversationId, Position, Position)],
    ) -> Result<Vec<(ConversationId, Position, Event)>, ApiError> {
        let conversations: Vec<i64> = wanted.iter().map(|(c, ..)| c.0).collect();
        let firsts: Vec<i64> = wanted.iter().map(|(_, first, _)| first.0).collect();
        let lasts: Vec<i64> = wanted.iter().map(|(.., last)| last.0).collect();
        let rows = self.tx().query(
            "SELECT e.conversation_id, e.pos, e.body, e.message_id
             FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) WITH ORDINALITY
                 AS w(conversation_id, first, last, position)
             JOIN conversation_events e
                 ON e.conversation_id = w.conversation_id AND e.pos BETWEEN w.first AND w.last
             ORDER BY w.position, e.pos",
            &[&conversations, &firsts, &lasts],
        )?;
        rows.into_iter()
            .map(|row| {
                let (conversation_id, pos) = (ConversationId(row.get(0)), row.get::<_, i64>(1));
                let event = decode(conversation_id, pos, row.get(2), row.get(3), |id| {
                    self.message(id)
                })?;
                Ok((conversation_id, Position(pos), event))
            })
            .collect()
    }

    fn events_after(
        &self,
        user_id: UserId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<(Seq, Event)>, ApiError> {
        let rows = self.tx().query(
            "SELECT seq, body, message_id FROM events
             WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&user_id.0, &after.0, &i64::from(limit)],
        )?;
        // The cell is free again here: reading a message borrows it anew.
        rows.into_iter()
            .map(|row| {
                let seq: i64 = row.get(0);
                let event = decode(user_id, seq, row.get(1), row.get(2), |id| self.message(id))?;
                Ok((Seq(seq), with_members(event, |id| self.members(id))?))
            })
            .collect()
    }

    fn latest_seq(&self, user_id: UserId) -> Result<Seq, ApiError> {
        let row = self
            .tx()
            .query_one("SELECT last_seq FROM users WHERE id = $1", &[&user_id.0])?;
        Ok(Seq(row.get(0)))
    }

    /// One query for every user (a group message announced to a node is one event for each
    /// member there), and each message read once however many events share it.
    fn events_between(
        &self,
        wanted: &[(UserId, Seq, Seq)],
    ) -> Result<Vec<(UserId, Seq, Event)>, ApiError> {
        let users: Vec<i64> = wanted.iter().map(|(user, ..)| user.0).collect();
        let firsts: Vec<i64> = wanted.iter().map(|(_, first, _)| first.0).collect();
        let lasts: Vec<i64> = wanted.iter().map(|(.., last)| last.0).collect();
        let rows = self.tx().query(
            "SELECT e.user_id, e.seq, e.body, e.message_id
             FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) WITH ORDINALITY
                 AS w(user_id, first, last, position)
             JOIN events e ON e.user_id = w.user_id AND e.seq BETWEEN w.first AND w.last
             ORDER BY w.position, e.seq",
            &[&users, &firsts, &lasts],
        )?;
        let mut messages = std::collections::HashMap::new();
        rows.into_iter()
            .map(|row| {
                let (user_id, seq) = (UserId(row.get(0)), row.get::<_, i64>(1));
                let event = decode(user_id, seq, row.get(2), row.get(3), |id| {
                    if let Some(message) = messages.get(&id) {
                        return Ok(Clone::clone(message));
                    }
                    let message = self.message(id)?;
                    messages.insert(id, message.clone());
                    Ok(message)
                })?;
                Ok((
                    user_id,
                    Seq(seq),
                    with_members(event, |id| self.members(id))?,
                ))
            })
            .collect()
    }
}
