//! Each user's durable event stream: appending (for `WriteCtx::emit`), replaying, and the
//! frame an event travels in.
//!
//! A message event is stored as a reference to the message, not a copy: a message to a group
//! of 100 is one row in `messages` and 100 small rows here, and a replay reads the message in
//! its current state (a card shows its request's status now, as history does). Every other
//! event is stored as its JSON body.

use crate::protocol::{ApiError, ConversationId, Event, Message, MessageId, Seq, UserId};

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
