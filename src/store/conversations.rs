//! Conversations and their members: direct (one per pair) and groups.
//! Every function takes the acting user and refuses what that user may not see or do.

use super::writer::WriteCtx;
use crate::protocol::{
    ApiError, Conversation, ConversationId, ConversationKind, ErrorCode, Event, MessageId,
    TimestampMs, User, UserId,
};

/// Most members a group may have (a community channel): a message is stored once whatever
/// the size, and delivering it costs the members online.
pub const MAX_GROUP_MEMBERS: usize = 10_000;
pub const MAX_GROUP_NAME_CHARS: usize = 64;

/// The direct conversation between `me` and `other_username`, created on first use.
pub fn open_direct(
    ctx: &mut WriteCtx,
    me: &User,
    other_username: &str,
) -> Result<Conversation, ApiError> {
    let other = ctx.db().user_by_name(other_username)?;
    let id = direct_with(ctx, me, &other)?;
    ctx.db().conversation(id, me.id)
}

/// The secret conversation of `me` and the user named `other_username`: a direct one apart
/// from their plain one, opened if they have none, where the server takes sealed messages only.
pub fn open_secret(
    ctx: &mut WriteCtx,
    me: &User,
    other_username: &str,
) -> Result<Conversation, ApiError> {
    let other = ctx.db().user_by_name(other_username)?;
    let id = pair_with(ctx, me, &other, true)?;
    ctx.db().conversation(id, me.id)
}

/// The direct conversation of `me` and `other`, opened (both told they joined) if they have
/// none. Only the id: a payment needs no more, and a full view counts the unread messages.
pub fn direct_with(
    ctx: &mut WriteCtx,
    me: &User,
    other: &User,
) -> Result<ConversationId, ApiError> {
    pair_with(ctx, me, other, false)
}

/// The plain or the secret conversation of a pair, opened if they have none.
fn pair_with(
    ctx: &mut WriteCtx,
    me: &User,
    other: &User,
    secret: bool,
) -> Result<ConversationId, ApiError> {
    if other.id == me.id {
        return Err(ApiError::invalid(
            "a direct conversation needs another user; you cannot open one with yourself",
        ));
    }
    let pair = format!("{}:{}", me.id.0.min(other.id.0), me.id.0.max(other.id.0));
    let key = if secret {
        format!("secret:{pair}")
    } else {
        pair
    };
    if let Some(id) = ctx.db().direct_conversation(&key)? {
        return Ok(id);
    }
    let id = ctx
        .db()
        .insert_conversation(ConversationKind::Direct, &key, ctx.now())?;
    if secret {
        ctx.db().mark_secret(id)?;
    }
    for user in [me.id, other.id] {
        ctx.db().insert_member(id, user)?;
    }
    // In id order, as every append to several streams goes, so that two transactions
    // touching the same streams wait for each other rather than deadlock (PostgreSQL).
    let mut members = [me.id, other.id];
    members.sort();
    for user in members {
        let conversation = ctx.db().conversation(id, user)?;
        ctx.emit(user, &Event::Joined { conversation })?;
    }
    Ok(id)
}

pub fn validate_group_name(name: &str) -> Result<(), ApiError> {
    let chars = name.chars().count();
    if name.trim() != name || chars == 0 || chars > MAX_GROUP_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "group name {name:?} must be 1 to {MAX_GROUP_NAME_CHARS} characters without \
             leading or trailing spaces"
        )));
    }
    if name.chars().any(|c| c.is_control() || c == '#' || c == '@') {
        return Err(ApiError::invalid(format!(
            "group name {name:?} may not contain control characters, '#' or '@'"
        )));
    }
    Ok(())
}

/// Creates a group of `me` plus `member_names`. Refused when `me` already has a group of that name.
pub fn create_group(
    ctx: &mut WriteCtx,
    me: &User,
    name: &str,
    member_names: &[String],
) -> Result<Conversation, ApiError> {
    validate_group_name(name)?;
    if member_names.len() + 1 > MAX_GROUP_MEMBERS {
        return Err(ApiError::invalid(format!(
            "a group has at most {MAX_GROUP_MEMBERS} members"
        )));
    }
    if ctx.db().group_named(me.id, name)?.is_some() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("you are already in a group named {name:?}"),
        ));
    }
    let mut member_ids = vec![me.id];
    for username in member_names {
        let user = ctx.db().user_by_name(username)?;
        if !member_ids.contains(&user.id) {
            member_ids.push(user.id);
        }
    }
    let id = ctx
        .db()
        .insert_conversation(ConversationKind::Group, name, ctx.now())?;
    for &user in &member_ids {
        ctx.db().insert_member(id, user)?;
    }
    for &user in &member_ids {
        let conversation = ctx.db().conversation(id, user)?;
        ctx.emit(user, &Event::Joined { conversation })?;
    }
    ctx.db().conversation(id, me.id)
}

/// Adds `username` to a group `me` is in. Any member may add; the new member sees history.
pub fn add_member(
    ctx: &mut WriteCtx,
    me: &User,
    conversation_id: ConversationId,
    username: &str,
) -> Result<Conversation, ApiError> {
    require_group(ctx.db(), conversation_id, me.id)?;
    let user = ctx.db().user_by_name(username)?;
    if ctx.db().require_member(conversation_id, user.id).is_ok() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("{username} is already a member"),
        ));
    }
    if ctx.db().members(conversation_id)?.len() >= MAX_GROUP_MEMBERS {
        return Err(ApiError::invalid(format!(
            "a group has at most {MAX_GROUP_MEMBERS} members"
        )));
    }
    // The log says so first; the new member reads it from the next position on.
    let event = Event::MemberJoined {
        conversation_id,
        user: user.clone(),
    };
    ctx.emit_to_conversation(conversation_id, &event)?;
    ctx.db().insert_member(conversation_id, user.id)?;
    let conversation = ctx.db().conversation(conversation_id, user.id)?;
    ctx.emit(user.id, &Event::Joined { conversation })?;
    ctx.db().conversation(conversation_id, me.id)
}

/// Mutes or unmutes a conversation for `me`; `me`'s other devices hear of it.
pub fn mute(
    ctx: &mut WriteCtx,
    me: &User,
    conversation_id: ConversationId,
    muted: bool,
) -> Result<Conversation, ApiError> {
    ctx.db().require_member(conversation_id, me.id)?;
    ctx.db().set_muted(conversation_id, me.id, muted)?;
    let conversation = ctx.db().conversation(conversation_id, me.id)?;
    let event = Event::ConversationUpdated {
        conversation: conversation.clone(),
    };
    ctx.emit(me.id, &event)?;
    Ok(conversation)
}

/// `me` leaves a group; everyone who was in it, `me` included, gets `member_left`.
pub fn leave(
    ctx: &mut WriteCtx,
    me: &User,
    conversation_id: ConversationId,
) -> Result<(), ApiError> {
    require_group(ctx.db(), conversation_id, me.id)?;
    // The log says so first: `me` reads it up to and including that position.
    let event = Event::MemberLeft {
        conversation_id,
        user: me.clone(),
    };
    ctx.emit_to_conversation(conversation_id, &event)?;
    ctx.db().deactivate_member(conversation_id, me.id)?;
    Ok(())
}

fn require_group(
    conn: &dyn Conversations,
    conversation_id: ConversationId,
    user_id: UserId,
) -> Result<(), ApiError> {
    match conn.require_member(conversation_id, user_id)? {
        ConversationKind::Group => Ok(()),
        ConversationKind::Direct => Err(ApiError::invalid(format!(
            "conversation {conversation_id} is a direct conversation, not a group"
        ))),
    }
}

/// What kind of conversation a member is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub kind: ConversationKind,
    pub secret: bool,
}

/// What a conversation's own row and a member's row say, for `Conversations::conversation`.
pub struct ConversationHead {
    pub kind: ConversationKind,
    pub name: Option<String>,
    pub created_at: TimestampMs,
    pub last_read: MessageId,
    /// The furthest read marker among the other members.
    pub others_read: MessageId,
    pub muted: bool,
    /// A secret conversation: the server takes only sealed messages there.
    pub secret: bool,
}

/// Conversations and their members, as a member sees them.
pub trait Conversations {
    /// The direct conversation whose pair key ("low:high" user ids, or "secret:low:high" for
    /// their secret one) is `key`, if it exists.
    fn direct_conversation(&self, key: &str) -> Result<Option<ConversationId>, ApiError>;

    /// Creates a conversation at `at`: a direct one under its pair key, or a group by name.
    fn insert_conversation(
        &self,
        kind: ConversationKind,
        key_or_name: &str,
        at: TimestampMs,
    ) -> Result<ConversationId, ApiError>;

    /// Makes a new direct conversation a secret one.
    fn mark_secret(&self, conversation_id: ConversationId) -> Result<(), ApiError>;

    /// Marks `user_id` as no longer a member of `conversation_id`.
    fn deactivate_member(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<(), ApiError>;

    /// The active group named `name` that `user_id` is in, if any.
    fn group_named(&self, user_id: UserId, name: &str) -> Result<Option<ConversationId>, ApiError>;

    fn insert_member(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<(), ApiError>;

    /// Checks that `user_id` is an active member of `conversation_id` and returns what kind
    /// it is. Unknown conversations and ones you are not in are both `forbidden`: existence
    /// is not leaked.
    fn membership(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<Membership, ApiError>;

    /// `membership`'s check, for who needs only the kind.
    fn require_member(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<ConversationKind, ApiError> {
        Ok(self.membership(conversation_id, user_id)?.kind)
    }

    /// Active members of a conversation, by username.
    fn members(&self, conversation_id: ConversationId) -> Result<Vec<User>, ApiError>;

    /// Member `viewer`'s row of a conversation: its kind, its name (groups), when it was
    /// made, and the newest message `viewer` has read.
    fn conversation_head(
        &self,
        conversation_id: ConversationId,
        viewer: UserId,
    ) -> Result<ConversationHead, ApiError>;

    /// The newest message of a conversation and when it was sent, if it has one.
    fn last_message(
        &self,
        conversation_id: ConversationId,
    ) -> Result<Option<(MessageId, TimestampMs)>, ApiError>;

    /// How many messages after `after` mention `viewer` (and are not deleted).
    fn unread_mentions(
        &self,
        conversation_id: ConversationId,
        after: MessageId,
        viewer: UserId,
    ) -> Result<u32, ApiError>;

    fn set_muted(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
        muted: bool,
    ) -> Result<(), ApiError>;

    /// How many messages after `after` were sent by others than `viewer`.
    fn unread_count(
        &self,
        conversation_id: ConversationId,
        after: MessageId,
        viewer: UserId,
    ) -> Result<u32, ApiError>;

    /// The conversation as `viewer` sees it: name, members, unread count, last activity.
    fn conversation(
        &self,
        conversation_id: ConversationId,
        viewer: UserId,
    ) -> Result<Conversation, ApiError> {
        let head = self.conversation_head(conversation_id, viewer)?;
        let members = self.members(conversation_id)?;
        let name = match head.kind {
            ConversationKind::Group => head.name.unwrap_or_default(),
            ConversationKind::Direct => members
                .iter()
                .find(|m| m.id != viewer)
                .map(|m| m.username.clone())
                .unwrap_or_default(),
        };
        let last = self.last_message(conversation_id)?;
        Ok(Conversation {
            id: conversation_id,
            kind: head.kind,
            name,
            members,
            unread: self.unread_count(conversation_id, head.last_read, viewer)?,
            last_message_id: last.map(|(id, _)| id),
            last_activity: last.map_or(head.created_at, |(_, at)| at),
            others_read_up_to: (head.others_read.0 > 0).then_some(head.others_read),
            unread_mentions: self.unread_mentions(conversation_id, head.last_read, viewer)?,
            muted: head.muted,
            secret: head.secret,
        })
    }

    /// Every conversation `user_id` is an active member of, most recently active first.
    fn conversations_of(&self, user_id: UserId) -> Result<Vec<Conversation>, ApiError> {
        let mut conversations = self
            .conversation_ids_of(user_id)?
            .into_iter()
            .map(|id| self.conversation(id, user_id))
            .collect::<Result<Vec<_>, _>>()?;
        conversations.sort_by_key(|c| std::cmp::Reverse((c.last_activity, c.id)));
        Ok(conversations)
    }

    /// The conversations `user_id` is an active member of, in no order.
    fn conversation_ids_of(&self, user_id: UserId) -> Result<Vec<ConversationId>, ApiError>;
}

/// Unknown conversations and ones the asker is not in get the same answer: existence is not
/// leaked.
pub fn not_a_member(conversation_id: ConversationId) -> ApiError {
    ApiError::forbidden(format!(
        "you are not a member of conversation {conversation_id}"
    ))
}

/// A conversation's kind as stored.
pub fn kind_of(stored: &str) -> ConversationKind {
    if stored == "direct" {
        ConversationKind::Direct
    } else {
        ConversationKind::Group
    }
}
