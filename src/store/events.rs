//! Each user's durable event stream: appending (for `WriteCtx::emit`), replaying, and the
//! frame an event travels in.
//!
//! A message event is stored as a reference to the message, not a copy: a message to a group
//! of 100 is one row in `messages` and 100 small rows here, and a replay reads the message in
//! its current state (a card shows its request's status now, as history does). Every other
//! event is stored as its JSON body.

use super::prelude::*;
use crate::protocol::{ApiError, ConversationId, Event, Message, MessageId, Seq, UserId};
use crate::store::Cached;
use rusqlite::Connection;

/// How an event is kept in a stream.
pub enum Stored<'a> {
    /// The event's JSON.
    Body(&'a str),
    /// A message event: the message's id.
    Message(MessageId),
}

/// How `event`, serialized as `body`, is kept.
pub fn stored<'a>(event: &Event, body: &'a str) -> Stored<'a> {
    match event {
        Event::Message { message } => Stored::Message(message.id),
        _ => Stored::Body(body),
    }
}

pub(super) fn columns<'a>(event: &Stored<'a>) -> (Option<&'a str>, Option<i64>) {
    match event {
        Stored::Body(body) => (Some(body), None),
        Stored::Message(id) => (None, Some(id.0)),
    }
}

/// The frame that carries an event, serialized once as `event_json`, to one user at `seq`:
/// the same text serde writes for `ServerFrame::Event`, without serializing the event again.
pub fn frame(seq: Seq, event_json: &str) -> String {
    format!(r#"{{"type":"event","seq":{},"event":{event_json}}}"#, seq.0)
}

/// Each user's stream of events, read back for a resume.
pub trait Events {
    /// Appends an event to `user_id`'s stream and returns its seq.
    fn append_event(&self, user_id: UserId, event: &Stored) -> Result<Seq, ApiError>;

    /// Appends an event to the stream of every active member of `conversation_id`, in two
    /// statements: each member's next seq, then every member's row. Returns (member, seq) pairs.
    fn append_event_for_members(
        &self,
        conversation_id: ConversationId,
        event: &Stored,
    ) -> Result<Vec<(UserId, Seq)>, ApiError>;

    /// Up to `limit` events of `user_id` with seq strictly greater than `after`, ascending.
    fn events_after(
        &self,
        user_id: UserId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<(Seq, Event)>, ApiError>;

    /// The newest seq handed out to `user_id` (0 when none).
    fn latest_seq(&self, user_id: UserId) -> Result<Seq, ApiError>;

    /// For each `(user, first, last)`, that user's events with seq from `first` to `last`, in
    /// seq order, users in the order given: what a node hands its connections when another
    /// node announces them.
    fn events_between(
        &self,
        wanted: &[(UserId, Seq, Seq)],
    ) -> Result<Vec<(UserId, Seq, Event)>, ApiError> {
        let mut found = Vec::new();
        for &(user_id, first, last) in wanted {
            let count = u32::try_from(last.0 - first.0 + 1).unwrap_or(u32::MAX);
            let after = Seq(first.0 - 1);
            for (seq, event) in self.events_after(user_id, after, count)? {
                found.push((user_id, seq, event));
            }
        }
        Ok(found)
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

    fn append_event_for_members(
        &self,
        conversation_id: ConversationId,
        event: &Stored,
    ) -> Result<Vec<(UserId, Seq)>, ApiError> {
        let appended = self
            .prepare_cached(
                "UPDATE users SET last_seq = last_seq + 1
                 WHERE id IN (SELECT user_id FROM members WHERE conversation_id = ?1 AND active = 1)
                 RETURNING id, last_seq",
            )?
            .query_map([conversation_id.0], |row| {
                Ok((UserId(row.get(0)?), Seq(row.get(1)?)))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let (body, message_id) = columns(event);
        // Each member's last_seq is the seq just taken: the rows follow from it.
        self.prepare_cached(
            "INSERT INTO events (user_id, seq, body, message_id)
             SELECT u.id, u.last_seq, ?2, ?3 FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.conversation_id = ?1 AND m.active = 1",
        )?
        .execute(rusqlite::params![conversation_id.0, body, message_id])?;
        Ok(appended)
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
            .query_map(rusqlite::params![user_id.0, after.0, limit], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<i64>>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, body, message_id)| {
                let event = decode(user_id, seq, body, message_id, |id| self.message(id))?;
                Ok((Seq(seq), event))
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

/// The event a stream row holds: its body, or the message it refers to (read by `message`,
/// in its current state).
pub(super) fn decode(
    user_id: UserId,
    seq: i64,
    body: Option<String>,
    message_id: Option<i64>,
    message: impl FnOnce(MessageId) -> Result<Message, ApiError>,
) -> Result<Event, ApiError> {
    match (body, message_id) {
        (_, Some(id)) => Ok(Event::Message {
            message: message(MessageId(id))?,
        }),
        (Some(body), None) => serde_json::from_str(&body).map_err(|e| {
            tracing::error!(error = %e, user = %user_id, seq, "stored event does not parse");
            ApiError::internal()
        }),
        (None, None) => {
            tracing::error!(user = %user_id, seq, "stored event has neither body nor message");
            Err(ApiError::internal())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerFrame;

    #[test]
    fn the_templated_frame_is_the_frame_serde_would_write() {
        let event = Event::Read {
            conversation_id: ConversationId(2),
            user: crate::protocol::User::new(UserId(3), "bob".to_owned()),
            up_to: MessageId(9),
        };
        let body = serde_json::to_string(&event).unwrap();
        let templated: ServerFrame = serde_json::from_str(&frame(Seq(42), &body)).unwrap();
        assert_eq!(
            templated,
            ServerFrame::Event {
                seq: Seq(42),
                event
            }
        );
    }
}
