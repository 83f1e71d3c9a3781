//! Messages: sending (de-duplicated on sender + client_id), replies, edits, deletes,
//! reactions, history pages, read markers.

use super::prelude::*;
use super::writer::WriteCtx;
use crate::protocol::files::FileId;
use crate::protocol::model::validate_caption;
use crate::protocol::model::{QUOTE_CHARS, Quote, Reaction, validate_reaction};
use crate::protocol::requests::Send;
use crate::protocol::secret::Sealed;
use crate::protocol::{
    ApiError, ClientMsgId, ConversationId, Event, Message, MessageId, TimestampMs, User, UserId,
};

/// Most messages one history page returns.
pub const MAX_HISTORY_LIMIT: u32 = 200;

/// What every message is read with, on both backends: the row, its sender, the message it
/// answers and that one's sender, its reactions as `EMOJI USER_ID USERNAME` joined by
/// commas (a reaction holds no comma or space: `validate_reaction`), its sealed copies, and
/// the file it carries.
pub(super) const SELECT_MESSAGE: &str =
    "SELECT m.id, m.conversation_id, u.id, u.username, u.is_bot,
    u.merchant_name, m.client_id, m.text, m.sent_at_ms, m.card_kind, m.card_ref,
    m.edited_at_ms, m.deleted,
    q.id, qu.id, qu.username, qu.is_bot, qu.merchant_name, q.text, q.deleted,
    (SELECT string_agg(r.emoji || ' ' || r.user_id || ' ' || ru.username, ','
        ORDER BY r.emoji, r.user_id)
     FROM reactions r JOIN users ru ON ru.id = r.user_id WHERE r.message_id = m.id),
    m.sealed, m.expires_at_ms,
    f.id, f.name, f.size, f.media_type, f.sha256
    FROM messages m JOIN users u ON u.id = m.sender_id
    LEFT JOIN messages q ON q.id = m.reply_to_id LEFT JOIN users qu ON qu.id = q.sender_id
    LEFT JOIN files f ON f.id = m.file_id";

/// The column where `SELECT_MESSAGE`'s file begins.
pub(super) const FILE_COLUMN: usize = 23;

/// The reactions `SELECT_MESSAGE` encodes, grouped by emoji in order.
pub(super) fn reactions_from(encoded: Option<&str>) -> Vec<Reaction> {
    let mut reactions: Vec<Reaction> = Vec::new();
    for one in encoded.unwrap_or_default().split(',') {
        let mut parts = one.splitn(3, ' ');
        let (Some(emoji), Some(Ok(id)), Some(username)) =
            (parts.next(), parts.next().map(str::parse), parts.next())
        else {
            continue;
        };
        let user = User::new(UserId(id), username);
        match reactions.last_mut() {
            Some(last) if last.emoji == emoji => last.users.push(user),
            _ => reactions.push(Reaction {
                emoji: emoji.to_owned(),
                users: vec![user],
            }),
        }
    }
    reactions
}

/// A sealed message's copies as the `sealed` column keeps them (JSON).
pub(super) fn sealed_json(sealed: Option<&Sealed>) -> Result<Option<String>, ApiError> {
    sealed
        .map(serde_json::to_string)
        .transpose()
        .map_err(|_| ApiError::internal())
}

/// The `sealed` column read back.
pub(super) fn sealed_from(
    column: Option<String>,
) -> Result<Option<Box<Sealed>>, serde_json::Error> {
    column
        .map(|json| serde_json::from_str(&json).map(Box::new))
        .transpose()
}

/// The quote of a replied-to message: its text cut to `QUOTE_CHARS`.
pub(super) fn quote(id: MessageId, sender: User, text: &str, deleted: bool) -> Box<Quote> {
    Box::new(Quote {
        id,
        sender,
        text: text.chars().take(QUOTE_CHARS).collect(),
        deleted,
    })
}

/// Refuses a history page size outside 1 to `MAX_HISTORY_LIMIT`.
pub fn check_history_limit(limit: u32) -> Result<(), ApiError> {
    if limit == 0 || limit > MAX_HISTORY_LIMIT {
        return Err(ApiError::invalid(format!(
            "history limit must be 1 to {MAX_HISTORY_LIMIT}, not {limit}"
        )));
    }
    Ok(())
}

/// A message row, and the card it refers to, if it is one: loaded by `with_card`.
pub(super) type MessageRow = (Message, Option<(String, i64)>);

/// Stores a message and emits it to every member. A `client_id` this sender already used
/// returns the original message and `true`, storing and emitting nothing. A file it carries
/// must be one the sender may read (theirs, or one shared with them: forwarding).
pub fn send(ctx: &mut WriteCtx, me: &User, outgoing: &Send) -> Result<(Message, bool), ApiError> {
    let Send {
        conversation_id,
        client_id,
        ref text,
        reply_to,
        ref file,
    } = *outgoing;
    if let Some(original) = ctx.db().message_by_client_id(me.id, client_id)? {
        return Ok((original, true));
    }
    if ctx.db().membership(conversation_id, me.id)?.secret {
        return Err(ApiError::invalid(format!(
            "conversation {conversation_id} is secret: the server takes only sealed messages \
             there (send_sealed)"
        )));
    }
    validate_caption(text, file.is_some())?;
    if let Some(answered) = reply_to
        && !ctx.db().message_is_in(answered, conversation_id)?
    {
        return Err(ApiError::invalid(format!(
            "reply_to: message {answered} is not in conversation {conversation_id}"
        )));
    }
    let carried = file
        .as_ref()
        .map(|id| super::files::readable_file(ctx, me, id))
        .transpose()?;
    let id = ctx.db().insert_message(
        &NewMessage {
            conversation_id,
            sender: me.id,
            client_id,
            text,
            card: None,
            reply_to,
            sealed: None,
            expires_at: None,
            file: file.as_ref(),
        },
        ctx.now(),
    )?;
    note_mentions(ctx, id, conversation_id, me.id, text)?;
    let message = match reply_to {
        // The quote is read back as every reader will see it.
        Some(_) => ctx.db().message(id)?,
        None => Message {
            id,
            conversation_id,
            sender: me.clone(),
            client_id,
            text: text.to_owned(),
            sent_at: ctx.now(),
            card: None,
            reply_to: None,
            file: carried.map(Box::new),
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            sealed: None,
            expires_at: None,
            unreadable: None,
        },
    };
    deliver(ctx, me, message)
}

/// Stores a sealed message in a secret conversation and emits it to every member, as `send`
/// does text. The server checks its form and that it names only devices of the
/// conversation's members, the sender's own device first; it cannot check what it says.
pub fn send_sealed(
    ctx: &mut WriteCtx,
    me: &User,
    conversation_id: ConversationId,
    client_id: ClientMsgId,
    sealed: &Sealed,
    expires_in_secs: Option<u32>,
) -> Result<(Message, bool), ApiError> {
    if let Some(original) = ctx.db().message_by_client_id(me.id, client_id)? {
        return Ok((original, true));
    }
    if let Some(secs) = expires_in_secs {
        crate::protocol::secret::validate_timer(secs)?;
    }
    let expires_at = expires_in_secs.map(|secs| TimestampMs(ctx.now().0 + i64::from(secs) * 1000));
    if !ctx.db().membership(conversation_id, me.id)?.secret {
        return Err(ApiError::invalid(format!(
            "conversation {conversation_id} is not secret: send its messages as text (send)"
        )));
    }
    sealed.validate_form()?;
    check_sealed_devices(ctx, me, conversation_id, sealed)?;
    let id = ctx.db().insert_message(
        &NewMessage {
            conversation_id,
            sender: me.id,
            client_id,
            text: "",
            card: None,
            reply_to: None,
            sealed: Some(sealed),
            expires_at,
            file: None,
        },
        ctx.now(),
    )?;
    let message = Message {
        id,
        conversation_id,
        sender: me.clone(),
        client_id,
        text: String::new(),
        sent_at: ctx.now(),
        card: None,
        reply_to: None,
        file: None,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        sealed: Some(Box::new(sealed.clone())),
        expires_at,
        unreadable: None,
    };
    deliver(ctx, me, message)
}

/// Refuses a sealed message from a device that is not the sender's, or with a copy for a
/// device of no member.
fn check_sealed_devices(
    ctx: &mut WriteCtx,
    me: &User,
    conversation_id: ConversationId,
    sealed: &Sealed,
) -> Result<(), ApiError> {
    let mine = ctx.db().devices_of(me.id)?;
    if !mine.iter().any(|d| d.id() == sealed.sender_device) {
        return Err(ApiError::invalid(format!(
            "sealed.sender_device {} is not one of your devices (publish_keys first)",
            sealed.sender_device
        )));
    }
    let mut known = Vec::new();
    for member in ctx.db().members(conversation_id)? {
        known.extend(ctx.db().devices_of(member.id)?);
    }
    for (index, copy) in sealed.copies.iter().enumerate() {
        if !known.iter().any(|d| d.id() == copy.device) {
            return Err(ApiError::invalid(format!(
                "sealed.copies[{index}]: device {} is no device of this conversation's members",
                copy.device
            )));
        }
    }
    Ok(())
}

/// A new message's last steps: it counts as read by its sender, and every member hears of it.
fn deliver(ctx: &mut WriteCtx, me: &User, message: Message) -> Result<(Message, bool), ApiError> {
    ctx.db()
        .advance_read_marker(message.conversation_id, me.id, message.id)?;
    let event = Event::Message {
        message: message.clone(),
    };
    ctx.emit_to_conversation(message.conversation_id, &event)?;
    Ok((message, false))
}

/// Moves `me`'s read marker forward to `up_to` (never back) and tells every member.
pub fn mark_read(
    ctx: &mut WriteCtx,
    me: &User,
    conversation_id: ConversationId,
    up_to: MessageId,
) -> Result<(), ApiError> {
    ctx.db().require_member(conversation_id, me.id)?;
    if !ctx.db().message_is_in(up_to, conversation_id)? {
        return Err(ApiError::not_found(format!(
            "message {up_to} is not in conversation {conversation_id}"
        )));
    }
    let moved = ctx
        .db()
        .advance_read_marker(conversation_id, me.id, up_to)?;
    if !moved {
        return Ok(());
    }
    let event = Event::Read {
        conversation_id,
        user: me.clone(),
        up_to,
    };
    ctx.emit_to_conversation(conversation_id, &event)?;
    Ok(())
}

/// Puts a card (a payment or a request) in a conversation as a message from `sender`, with
/// `summary` as its text, and emits it to every member like any message.
pub fn insert_card(
    ctx: &mut WriteCtx,
    sender: &User,
    conversation_id: ConversationId,
    card: crate::protocol::payments::Card,
    summary: &str,
) -> Result<Message, ApiError> {
    let (kind, reference) = super::cards::reference(&card);
    let client_id = ClientMsgId::random();
    let id = ctx.db().insert_message(
        &NewMessage {
            conversation_id,
            sender: sender.id,
            client_id,
            text: summary,
            card: Some((kind, reference)),
            reply_to: None,
            sealed: None,
            expires_at: None,
            file: None,
        },
        ctx.now(),
    )?;
    let message = Message {
        id,
        conversation_id,
        sender: sender.clone(),
        client_id,
        text: summary.to_owned(),
        sent_at: ctx.now(),
        card: Some(Box::new(card)),
        reply_to: None,
        file: None,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        sealed: None,
        expires_at: None,
        unreadable: None,
    };
    let event = Event::Message {
        message: message.clone(),
    };
    ctx.emit_to_conversation(conversation_id, &event)?;
    Ok(message)
}

/// Replaces the text of `me`'s message `id` and tells every member; `sent_at` stays. The same
/// text again changes nothing.
pub fn edit(ctx: &mut WriteCtx, me: &User, id: MessageId, text: &str) -> Result<Message, ApiError> {
    let message = own_plain_message(ctx, me, id, "edit")?;
    validate_caption(text, message.file.is_some())?;
    if message.sealed.is_some() {
        return Err(ApiError::invalid(format!(
            "message {id} is sealed: an edit would put its new text in the clear on the server"
        )));
    }
    if message.text == text {
        return Ok(message);
    }
    ctx.db().replace_text(id, text, ctx.now())?;
    note_mentions(ctx, id, message.conversation_id, me.id, text)?;
    updated(ctx, id)
}

/// Deletes `me`'s message `id`, leaving a tombstone, and tells every member. Deleting it
/// again changes nothing.
pub fn delete(ctx: &mut WriteCtx, me: &User, id: MessageId) -> Result<Message, ApiError> {
    let message = find_member_message(ctx, me, id)?;
    if message.deleted {
        return Ok(message);
    }
    own_plain_message(ctx, me, id, "delete")?;
    ctx.db().tombstone(id)?;
    ctx.db().clear_mentions(id)?;
    updated(ctx, id)
}

/// Adds (or, with `remove`, takes back) `me`'s `emoji` under message `id`, and tells every
/// member when that changed anything.
pub fn react(
    ctx: &mut WriteCtx,
    me: &User,
    id: MessageId,
    emoji: &str,
    remove: bool,
) -> Result<Message, ApiError> {
    validate_reaction(emoji)?;
    let message = find_member_message(ctx, me, id)?;
    if message.deleted {
        return Err(ApiError::invalid(format!("message {id} was deleted")));
    }
    if message.sealed.is_some() {
        return Err(ApiError::invalid(format!(
            "message {id} is sealed: a reaction would be readable by the server"
        )));
    }
    if !ctx.db().set_reaction(id, me.id, emoji, !remove)? {
        return Ok(message);
    }
    updated(ctx, id)
}

/// Records whom `text` (message `id`'s) mentions among the conversation's members, in place
/// of what an earlier text mentioned.
fn note_mentions(
    ctx: &mut WriteCtx,
    id: MessageId,
    conversation_id: ConversationId,
    sender: UserId,
    text: &str,
) -> Result<(), ApiError> {
    ctx.db().clear_mentions(id)?;
    let mut names: Vec<&str> = crate::protocol::model::mentioned(text).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        ctx.db().record_mention(id, conversation_id, sender, name)?;
    }
    Ok(())
}

/// Message `id`, if it is in a conversation `me` is a member of now.
fn find_member_message(ctx: &mut WriteCtx, me: &User, id: MessageId) -> Result<Message, ApiError> {
    let message = ctx
        .db()
        .find_message(id)?
        .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
    ctx.db().require_member(message.conversation_id, me.id)?;
    Ok(message)
}

/// Message `id` if `me` may `action` it: their own, text (not a card), not deleted.
fn own_plain_message(
    ctx: &mut WriteCtx,
    me: &User,
    id: MessageId,
    action: &str,
) -> Result<Message, ApiError> {
    let message = find_member_message(ctx, me, id)?;
    if message.sender.id != me.id {
        return Err(ApiError::forbidden(format!(
            "message {id} is {}'s: you can {action} only your own messages",
            message.sender.username
        )));
    }
    if message.card.is_some() {
        return Err(ApiError::invalid(format!(
            "message {id} is a payment, request or invoice card; cards cannot be edited or deleted"
        )));
    }
    if message.deleted {
        return Err(ApiError::invalid(format!("message {id} was deleted")));
    }
    Ok(message)
}

/// Reads message `id` back as it is now and tells every member of its conversation.
fn updated(ctx: &mut WriteCtx, id: MessageId) -> Result<Message, ApiError> {
    let message = ctx.db().message(id)?;
    let event = Event::MessageUpdated {
        message: message.clone(),
    };
    ctx.emit_to_conversation(message.conversation_id, &event)?;
    Ok(message)
}

/// A message about to be stored.
pub struct NewMessage<'a> {
    pub conversation_id: ConversationId,
    pub sender: UserId,
    pub client_id: ClientMsgId,
    pub text: &'a str,
    /// For a card: what it shows (`cards::reference`).
    pub card: Option<(&'static str, i64)>,
    /// The message of the same conversation this one answers.
    pub reply_to: Option<MessageId>,
    /// In a secret conversation: the ciphertexts (`text` is empty).
    pub sealed: Option<&'a Sealed>,
    /// When the server deletes the ciphertext (a disappearing message).
    pub expires_at: Option<TimestampMs>,
    /// The file the message carries.
    pub file: Option<&'a FileId>,
}

/// Messages, read back with their sender and card.
pub trait Messages: Conversations {
    /// Stores `message` as sent at `at`; its id.
    fn insert_message(&self, message: &NewMessage, at: TimestampMs) -> Result<MessageId, ApiError>;

    /// Whether message `id` is in `conversation_id`.
    fn message_is_in(
        &self,
        id: MessageId,
        conversation_id: ConversationId,
    ) -> Result<bool, ApiError>;

    /// Moves `user_id`'s read marker in `conversation_id` forward to `up_to`, never back;
    /// whether it moved.
    fn advance_read_marker(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
        up_to: MessageId,
    ) -> Result<bool, ApiError>;

    fn message_by_client_id(
        &self,
        sender: UserId,
        client_id: ClientMsgId,
    ) -> Result<Option<Message>, ApiError>;

    /// The message `id` as it is now (its card, quote and reactions too), if it exists.
    fn find_message(&self, id: MessageId) -> Result<Option<Message>, ApiError>;

    /// The message `id` as it is now, which must exist.
    fn message(&self, id: MessageId) -> Result<Message, ApiError> {
        self.find_message(id)?
            .ok_or_else(|| ApiError::not_found(format!("no message {id}")))
    }

    /// Replaces message `id`'s text, edited at `at` (the search index follows).
    fn replace_text(&self, id: MessageId, text: &str, at: TimestampMs) -> Result<(), ApiError>;

    /// Empties message `id`, takes its reactions away and marks it deleted (the search index
    /// follows).
    fn tombstone(&self, id: MessageId) -> Result<(), ApiError>;

    /// Deletes the ciphertext of every disappearing message whose time is up by `now`,
    /// leaving tombstones; how many.
    fn expire_sealed(&self, now: TimestampMs) -> Result<usize, ApiError>;

    /// Notes that message `id` mentions `username`, if that user is an active member of
    /// `conversation_id` (other than `sender`).
    fn record_mention(
        &self,
        id: MessageId,
        conversation_id: ConversationId,
        sender: UserId,
        username: &str,
    ) -> Result<(), ApiError>;

    /// Forgets whom message `id` mentions.
    fn clear_mentions(&self, id: MessageId) -> Result<(), ApiError>;

    /// Puts (`present`) or takes away `user`'s `emoji` under message `id`; whether that
    /// changed anything.
    fn set_reaction(
        &self,
        id: MessageId,
        user: UserId,
        emoji: &str,
        present: bool,
    ) -> Result<bool, ApiError>;

    /// Up to `limit` messages of `conversation_id` older than message `before`, newest first.
    fn messages_before(
        &self,
        conversation_id: ConversationId,
        before: MessageId,
        limit: u32,
    ) -> Result<Vec<Message>, ApiError>;

    /// What member `me` sees of a conversation: up to `limit` messages strictly older than
    /// `before` (the newest when `None`), ascending, and whether older ones remain.
    fn history(
        &self,
        me: UserId,
        conversation_id: ConversationId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), ApiError> {
        self.require_member(conversation_id, me)?;
        check_history_limit(limit)?;
        let before = before.unwrap_or(MessageId(i64::MAX));
        let mut messages = self.messages_before(conversation_id, before, limit + 1)?;
        let has_more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        messages.reverse();
        Ok((messages, has_more))
    }
}
