//! The things frames talk about: conversations and messages (users are in `user.rs`).

use super::error::ApiError;
use super::types::{ClientMsgId, ConversationId, MessageId, TimestampMs};
use super::user::User;
use serde::{Deserialize, Serialize};

/// Longest message text in bytes of UTF-8; keeps every message well inside one frame.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    Direct,
    Group,
}

/// A conversation as one member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// The group's name; for a direct conversation, the other member's username.
    pub name: String,
    pub members: Vec<User>,
    /// Messages from others newer than this member's read marker.
    pub unread: u32,
    /// The newest message's id, if any; clients sort by it.
    pub last_message_id: Option<MessageId>,
    /// When the newest message was sent, or the conversation created.
    pub last_activity: TimestampMs,
    /// Unread messages from others that mention you (`@you`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread_mentions: u32,
    /// You muted it: no bell or desktop notice for it (a mention still notifies).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub muted: bool,
    /// The newest message another member has read (in a group, the furthest any other member
    /// has read): your messages up to it show as read. Absent before anyone read anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others_read_up_to: Option<MessageId>,
    /// A secret conversation (a direct one, apart from the plain one): its messages are
    /// sealed, end-to-end encrypted for each device.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub sender: User,
    pub client_id: ClientMsgId,
    /// For a card, a one-line summary, so clients that do not draw cards still say something.
    pub text: String,
    pub sent_at: TimestampMs,
    /// A payment or a request shown in place of text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Box<super::payments::Card>>,
    /// The message this one answers, as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Box<Quote>>,
    /// The file this message carries; `text` is its caption (perhaps empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Box<super::files::FileRef>>,
    /// When the sender last edited the text; `sent_at` stays the original time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<TimestampMs>,
    /// Deleted by its sender: a tombstone, its text empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Emoji reactions, each with who reacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// In a secret conversation: the text sealed for each device (`text` is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Box<super::secret::Sealed>>,
    /// A disappearing message: when it goes (the server deletes its ciphertext then; clients
    /// go by the time sealed inside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<TimestampMs>,
    /// Never on the wire: set by a client that could not read a sealed message, saying why.
    #[serde(skip)]
    pub unreadable: Option<String>,
}

/// The message a reply answers, for a one-line quote: its text now (cut to
/// `QUOTE_CHARS` characters; empty once deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub id: MessageId,
    pub sender: User,
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// Longest quote of a replied-to message, in characters.
pub const QUOTE_CHARS: usize = 200;

/// One emoji under a message and who put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<User>,
}

/// Longest reaction, in bytes: one emoji, skin tone and joiners included.
pub const MAX_REACTION_BYTES: usize = 32;

/// What the server requires of a reaction: one emoji (a single grapheme that is not a letter,
/// a digit, a space or punctuation of ASCII).
pub fn validate_reaction(emoji: &str) -> Result<(), ApiError> {
    use unicode_segmentation::UnicodeSegmentation;
    let refuse = |why: &str| Err(ApiError::invalid(format!("reaction {emoji:?}: {why}")));
    if emoji.is_empty() || emoji.len() > MAX_REACTION_BYTES {
        return refuse(&format!(
            "must be one emoji, 1 to {MAX_REACTION_BYTES} bytes"
        ));
    }
    if emoji.graphemes(true).count() != 1 {
        return refuse("must be one emoji, not several characters");
    }
    if emoji.chars().all(|c| c.is_ascii() || c.is_alphanumeric())
        || emoji.chars().any(char::is_control)
    {
        return refuse("must be an emoji, not a letter, a digit or a symbol of plain text");
    }
    Ok(())
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The usernames a text mentions: `@name` where the name follows the username rules' letters
/// and is not part of a longer word (an e-mail address mentions nobody).
pub fn mentioned(text: &str) -> impl Iterator<Item = &str> {
    let is_name = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    text.match_indices('@').filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        let rest = &text[at + 1..];
        let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
        let name = &rest[..end];
        name.starts_with(|c: char| c.is_ascii_lowercase())
            .then_some(name)
    })
}

/// What the server requires of a message's text; clients check it too, before queueing.
/// As [`validate_text`], but a message that carries a file may have no text (its caption).
pub fn validate_caption(text: &str, carries_file: bool) -> Result<(), ApiError> {
    match carries_file && text.is_empty() {
        true => Ok(()),
        false => validate_text(text),
    }
}

pub fn validate_text(text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("message text is empty"));
    }
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::invalid(format!(
            "message text is {} bytes; the limit is {MAX_MESSAGE_BYTES}",
            text.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_at_names_that_stand_alone() {
        let found: Vec<_> =
            mentioned("@bob and @carol_2, mail bob@example.com, (@dave) @Eve @ @9x @bob").collect();
        assert_eq!(found, ["bob", "carol_2", "dave", "bob"]);
    }
}
