//! Results: the `result` of an `ok` reply, one type per request that returns more than `{}`.

use super::model::{Conversation, Message};
use super::payments::{Invoice, PaymentRequest, StatementLine, Transfer};
use super::types::{ConversationId, MessageId, Seq, TimestampMs};
use super::user::User;
use crate::money::Money;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub server: String,
    /// The logged-in user, or `None` on an anonymous connection.
    pub user: Option<User>,
    pub max_frame_bytes: usize,
    /// Where replay starts: the hello's `resume_after`, or 0 when that was ahead of
    /// everything the server holds for this user (the server's store was replaced).
    pub resume_after: Option<Seq>,
    /// Conversations whose position in the hello was ahead of everything the server holds
    /// (its store was replaced): they are replayed from where the user joined them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarted: Vec<ConversationId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    pub user: User,
    /// Opaque bearer token for the websocket upgrade's Authorization header.
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversations {
    pub conversations: Vec<Conversation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneConversation {
    pub conversation: Conversation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sent {
    pub message: Message,
    /// True when this client_id was already accepted: `message` is the original.
    pub duplicate: bool,
}

/// A message as it is now: after an edit, a delete or a reaction, or as `message` asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneMessage {
    pub message: Message,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub messages: Vec<Message>,
    /// More messages exist before the first one returned.
    pub has_more: bool,
    /// As `Conversation::others_read_up_to`, now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others_read_up_to: Option<MessageId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub hits: Vec<SearchHit>,
}

/// A message that matched, in its current state, and where in its text: byte ranges
/// `[start, end)` of UTF-8, ascending and disjoint, for clients to highlight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub message: Message,
    pub highlights: Vec<[usize; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    /// One per currency you hold a wallet in.
    pub balances: Vec<Money>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paid {
    pub transfer: Transfer,
    /// Your balance in that currency after the transfer.
    pub balance_after: Money,
    /// True when this idempotency key was already applied: `transfer` is the original
    /// and no more money moved.
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestMade {
    pub request: PaymentRequest,
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    pub requests: Vec<PaymentRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceMade {
    pub invoice: Invoice,
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoices {
    pub invoices: Vec<Invoice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refunded {
    pub transfer: Transfer,
    pub invoice: Invoice,
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub lines: Vec<StatementLine>,
    pub has_more: bool,
}

/// One of a user's sessions (a token from `login` or `register`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Names the session for `revoke_session`: the first 12 hex digits of its token's hash.
    pub id: String,
    /// The session this connection uses.
    pub current: bool,
    pub created_at: TimestampMs,
    /// When a connection last opened with it, and from which address.
    pub last_used_at: Option<TimestampMs>,
    pub last_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sessions {
    pub sessions: Vec<SessionInfo>,
}

/// How many one-time keys the published device now holds on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysPublished {
    pub one_time_keys: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Devices {
    pub devices: Vec<super::secret::DeviceKeys>,
}

/// A key for each claimed device that had one; `unavailable`: devices unknown or without any
/// key left (not even a fallback key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimedKeys {
    pub keys: Vec<super::secret::ClaimedKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}

/// Your top-ups and payouts, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fundings {
    pub fundings: Vec<super::funding::Funding>,
}
