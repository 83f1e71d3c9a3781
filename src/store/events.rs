//! The durable event streams: appending (for `WriteCtx::emit` and `emit_to_conversation`),
//! replaying, and the frames events travel in.
//!
//! Two kinds of stream (fan-out on read). Each **conversation** keeps one log of what
//! happens in it (messages, edits, reactions, read marks, requests and invoices changing,
//! members coming and going), stored once however many members read it; a member reads it
//! from where they joined (`members.joined_pos`, exclusive) to where they left
//! (`members.left_pos`, inclusive; open while a member). Each **user** keeps a stream of
//! their own events (joining, payments, top-ups, keys, ...). A client resumes from its seq in
//! its own stream plus its position in each conversation's log.
//!
//! A message event is stored as a reference to the message, not a copy, and a replay reads
//! the message in its current state (a card shows its request's status now, as history does).
//! An event that carries a conversation (joined, updated) is stored without its members, and a
//! replay reads them as they are now: a group of n created at once would otherwise store n
//! lists of n. Every other event is stored as its JSON body.

use crate::protocol::{
    ApiError, ConversationId, Event, Message, MessageId, Position, Seq, User, UserId,
};
use std::borrow::Cow;
use std::fmt::Display;
use std::sync::Arc;

/// How an event is kept in a stream.
pub enum Stored<'a> {
    /// The event's JSON.
    Body(Cow<'a, str>),
    /// A message event: the message's id.
    Message(MessageId),
}

/// How `event`, serialized as `body`, is kept.
pub fn stored<'a>(event: &Event, body: &'a str) -> Result<Stored<'a>, ApiError> {
    Ok(match event {
        Event::Message { message } => Stored::Message(message.id),
        Event::Joined { .. } | Event::ConversationUpdated { .. } => {
            Stored::Body(Cow::Owned(without_members(event)?))
        }
        _ => Stored::Body(Cow::Borrowed(body)),
    })
}

/// The JSON of `event` with its conversation's members left out.
fn without_members(event: &Event) -> Result<String, ApiError> {
    let mut bare = event.clone();
    if let Event::Joined { conversation } | Event::ConversationUpdated { conversation } = &mut bare
    {
        conversation.members.clear();
    }
    serde_json::to_string(&bare).map_err(|e| {
        tracing::error!(error = %e, "cannot serialize event");
        ApiError::internal()
    })
}

pub(super) fn columns<'s>(event: &'s Stored) -> (Option<&'s str>, Option<i64>) {
    match event {
        Stored::Body(body) => (Some(body.as_ref()), None),
        Stored::Message(id) => (None, Some(id.0)),
    }
}

/// A user's stream event as replayed: a conversation it carries gets its members as they
/// are now (they are not stored; see the module's note).
pub(super) fn with_members(
    mut event: Event,
    members: impl FnOnce(ConversationId) -> Result<Vec<User>, ApiError>,
) -> Result<Event, ApiError> {
    if let Event::Joined { conversation } | Event::ConversationUpdated { conversation } = &mut event
    {
        conversation.members = members(conversation.id)?;
    }
    Ok(event)
}

/// The frame that carries an event, serialized once as `event_json`, to one user at `seq`:
/// the same text serde writes for `ServerFrame::Event`, without serializing the event again.
pub fn frame(seq: Seq, event_json: &str) -> String {
    format!(r#"{{"type":"event","seq":{},"event":{event_json}}}"#, seq.0)
}

/// The frame that carries a conversation's event at `pos`, the same text for every member:
/// what serde writes for `ServerFrame::ConversationEvent`.
pub fn conversation_frame(
    conversation_id: ConversationId,
    pos: Position,
    event_json: &str,
) -> String {
    format!(
        r#"{{"type":"conversation_event","conversation_id":{},"pos":{},"event":{event_json}}}"#,
        conversation_id.0, pos.0
    )
}

/// Where a durable event was put: a user's stream at a seq, or a conversation's log at a
/// position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    User(UserId, Seq),
    Conversation(ConversationId, Position),
}

/// What an event changes about who reads which conversation's log: a connection follows a
/// conversation its user joined and stops at the event that says its user left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Joined(ConversationId),
    Left(ConversationId, UserId),
}

impl Membership {
    pub fn of(event: &Event) -> Option<Membership> {
        match event {
            Event::Joined { conversation } => Some(Membership::Joined(conversation.id)),
            Event::MemberLeft {
                conversation_id,
                user,
            } => Some(Membership::Left(*conversation_id, user.id)),
            _ => None,
        }
    }
}

/// A committed event on its way to connections: its whole frame, serialized once for every
/// connection it goes to.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub place: Place,
    pub frame: Arc<str>,
    pub membership: Option<Membership>,
}

impl Delivery {
    /// The delivery of `event`, already serialized as `event_json`, at `place`.
    pub fn new(place: Place, event: &Event, event_json: &str) -> Delivery {
        let frame = match place {
            Place::User(_, seq) => frame(seq, event_json),
            Place::Conversation(conversation_id, pos) => {
                conversation_frame(conversation_id, pos, event_json)
            }
        };
        Delivery {
            place,
            frame: frame.into(),
            membership: Membership::of(event),
        }
    }

    /// The delivery of `event` at `place`, serialized here (`None` if it cannot be).
    pub fn encode(place: Place, event: &Event) -> Option<Delivery> {
        let json = serde_json::to_string(event)
            .inspect_err(|e| tracing::error!(error = %e, "cannot serialize event"))
            .ok()?;
        Some(Delivery::new(place, event, &json))
    }
}

/// A conversation's log as one user may read it: after `joined`, up to `left` when they left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub conversation_id: ConversationId,
    pub joined: Position,
    pub left: Option<Position>,
    /// The newest position in the log.
    pub last: Position,
}

impl Window {
    /// Whether the user reads the log now (is a member).
    pub fn is_open(&self) -> bool {
        self.left.is_none()
    }

    /// The newest position this user may read.
    pub fn end(&self) -> Position {
        self.left.unwrap_or(self.last)
    }
}

/// `Events::windows_of` on both backends: `?1`/`$1` the user. A member's window is open; one
/// who left keeps theirs only while it holds something after they joined.
pub(super) const WINDOWS_OF: &str = "SELECT m.conversation_id, m.joined_pos, m.left_pos, c.last_pos
    FROM members m JOIN conversations c ON c.id = m.conversation_id
    WHERE m.user_id = $1 AND (m.left_pos IS NULL OR m.left_pos > m.joined_pos)
    ORDER BY m.conversation_id";

/// `Events::conversation_events_for` on both backends: the user, the conversation, the
/// position after which to read, the most rows.
pub(super) const CONVERSATION_EVENTS_FOR: &str = "SELECT e.pos, e.body, e.message_id
    FROM conversation_events e JOIN members m
        ON m.conversation_id = e.conversation_id AND m.user_id = $1
    WHERE e.conversation_id = $2 AND e.pos > $3 AND e.pos > m.joined_pos
        AND (m.left_pos IS NULL OR e.pos <= m.left_pos)
    ORDER BY e.pos LIMIT $4";

/// The event streams, read back for a resume.
pub trait Events {
    /// Appends an event to `user_id`'s stream and returns its seq.
    fn append_event(&self, user_id: UserId, event: &Stored) -> Result<Seq, ApiError>;

    /// Appends an event to `conversation_id`'s log and returns its position: one row however
    /// many members the conversation has. The conversation's counter row stays locked until
    /// the transaction ends, so positions follow commit order.
    fn append_conversation_event(
        &self,
        conversation_id: ConversationId,
        event: &Stored,
    ) -> Result<Position, ApiError>;

    /// Every conversation `user_id` is a member of, or left with something in its log they
    /// may still read (`left` after `joined`).
    fn windows_of(&self, user_id: UserId) -> Result<Vec<Window>, ApiError>;

    /// Up to `limit` events of `conversation_id`'s log after `after`, ascending, that
    /// `user_id` may read (within their window; none if they were never a member).
    fn conversation_events_for(
        &self,
        user_id: UserId,
        conversation_id: ConversationId,
        after: Position,
        limit: u32,
    ) -> Result<Vec<(Position, Event)>, ApiError>;

    /// For each `(conversation, first, last)`, its events from `first` to `last`, in order,
    /// conversations in the order given: what a node hands its connections when another node
    /// announces them (each connection keeps to its own window).
    fn conversation_events_between(
        &self,
        wanted: &[(ConversationId, Position, Position)],
    ) -> Result<Vec<(ConversationId, Position, Event)>, ApiError>;

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
/// in its current state). `stream` and `seq` name the row in the log.
pub(super) fn decode(
    stream: impl Display,
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
            tracing::error!(error = %e, %stream, seq, "stored event does not parse");
            ApiError::internal()
        }),
        (None, None) => {
            tracing::error!(%stream, seq, "stored event has neither body nor message");
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
