//! The requests a client sends, one type each; `frames::RequestBody` names which one a frame
//! carries (its `type`), and the server answers each with its own handler
//! (`server/requests/`). Each field is documented in `docs/PROTOCOL.md`. The requests without
//! fields are unit structs here, so that each has a type the server's handler is for.

use super::payments::{IdempotencyKey, InvoiceId, LineItem, PaymentRequestId, TransferId};
use super::types::{ClientMsgId, ConversationId, MessageId, Position, Seq};
use crate::money::{Currency, Money};
use serde::{Deserialize, Serialize};

/// Every request a client may send, each written once: `RequestBody`, its names on the wire
/// (`TYPES`, `kind`) and the server's dispatch (`server::requests`) are made from this list by
/// the macro named in `$then`. A request with a body carries `requests::NAME`; a bare one has
/// no fields on the wire, and `requests::NAME` is the unit struct the server handles it as.
macro_rules! for_each_request {
    ($then:ident) => {
        $then! {
            bodies {
                Hello = "hello",
                Register = "register",
                Login = "login",
                OpenDirect = "open_direct",
                CreateGroup = "create_group",
                AddMember = "add_member",
                Leave = "leave",
                Mute = "mute",
                Send = "send",
                EditMessage = "edit_message",
                DeleteMessage = "delete_message",
                React = "react",
                History = "history",
                GetMessage = "message",
                Search = "search",
                MarkRead = "mark_read",
                Typing = "typing",
                Pay = "pay",
                RequestMoney = "request_money",
                Split = "split",
                PayRequest = "pay_request",
                DeclineRequest = "decline_request",
                CancelRequest = "cancel_request",
                Statement = "statement",
                SendInvoice = "send_invoice",
                PayInvoice = "pay_invoice",
                Refund = "refund",
                SetPin = "set_pin",
                RevokeSession = "revoke_session",
                PublishKeys = "publish_keys",
                Devices = "devices",
                ClaimKeys = "claim_keys",
                OpenSecret = "open_secret",
                SendSealed = "send_sealed",
                Topup = "topup",
                Withdraw = "withdraw",
            }
            bare {
                /// Revokes this connection's token and closes the connection.
                Logout = "logout",
                /// Your conversations, each with its last message and unread counts.
                Conversations = "conversations",
                /// Your wallet balances.
                Balance = "balance",
                /// Requests you made or were asked to pay, open ones first.
                Requests = "requests",
                /// Invoices you sent or were sent, open ones first.
                Invoices = "invoices",
                /// The caller's sessions: where and when each was last used.
                Sessions = "sessions",
                /// Your top-ups and payouts, newest first.
                Fundings = "fundings",
            }
        }
    };
}
/// For the modules made from the list: `frames` (the enum) and the server (its dispatch).
pub(crate) use for_each_request;

/// First frame on every connection. `resume_after`: the last seq of its own stream the client
/// holds; `None` means "send me no durable events" (a one-shot or anonymous connection).
/// `positions`: for each conversation the client has followed, the last position it holds;
/// a conversation left out is replayed from where the user joined it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    #[serde(default, deserialize_with = "super::types::non_negative_seq")]
    pub resume_after: Option<Seq>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub positions: Vec<(ConversationId, Position)>,
    #[serde(default)]
    pub client: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Register {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// The direct conversation with `username`, created on first use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenDirect {
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateGroup {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddMember {
    pub conversation_id: ConversationId,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leave {
    pub conversation_id: ConversationId,
}

/// Mutes (or with `muted: false` unmutes) a conversation for you.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mute {
    pub conversation_id: ConversationId,
    pub muted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Send {
    pub conversation_id: ConversationId,
    pub client_id: ClientMsgId,
    pub text: String,
    /// The message of this conversation this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    /// A file uploaded before (`POST /v1/files`), which the message carries; `text` is then
    /// its caption and may be empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<super::files::FileId>,
}

/// Replaces the text of one of your messages (not a card); `sent_at` stays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditMessage {
    pub message_id: MessageId,
    pub text: String,
}

/// Deletes one of your messages (not a card), leaving a tombstone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteMessage {
    pub message_id: MessageId,
}

/// Adds your `emoji` reaction to a message of a conversation you are in, or with `remove`
/// takes it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct React {
    pub message_id: MessageId,
    pub emoji: String,
    #[serde(default)]
    pub remove: bool,
}

/// Up to `limit` messages strictly older than `before` (newest if absent), ascending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub conversation_id: ConversationId,
    #[serde(default)]
    pub before: Option<MessageId>,
    pub limit: u32,
}

/// One message by its id, as it is now, if you are in its conversation (what `quid
/// download` asks before fetching the file a message carries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetMessage {
    pub message_id: MessageId,
}

/// Full-text search over the conversations you are a member of, best match first. `query`
/// is in quid's query language (`crate::search::Query`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub query: String,
    /// Only in this conversation.
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
    /// Only messages this user sent.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default = "default_search_limit")]
    pub limit: u32,
}

fn default_search_limit() -> u32 {
    20
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkRead {
    pub conversation_id: ConversationId,
    pub up_to: MessageId,
}

/// "I am typing in this conversation": relayed to the other members online, not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Typing {
    pub conversation_id: ConversationId,
}

/// Pays `to`. The card goes in `conversation_id`, or your direct conversation with `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pay {
    pub to: String,
    pub amount: Money,
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
    pub idempotency_key: IdempotencyKey,
    #[serde(default)]
    pub pin: Option<String>,
}

/// Asks `from` for money, as a card in `conversation_id` (or your direct conversation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestMoney {
    pub from: String,
    pub amount: Money,
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    pub idempotency_key: IdempotencyKey,
}

/// Splits `amount` among the other members of a group: one request each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub conversation_id: ConversationId,
    pub amount: Money,
    #[serde(default)]
    pub memo: String,
    pub idempotency_key: IdempotencyKey,
    /// The amount is the whole bill, the requester's share included (Splitwise's sense);
    /// false (the default, for older clients): what the others owe together.
    #[serde(default)]
    pub includes_me: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayRequest {
    pub request_id: PaymentRequestId,
    pub idempotency_key: IdempotencyKey,
    #[serde(default)]
    pub pin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclineRequest {
    pub request_id: PaymentRequestId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelRequest {
    pub request_id: PaymentRequestId,
}

/// Most statement lines one `statement` request returns.
pub const MAX_STATEMENT_LIMIT: u32 = 500;

/// Transfers that touched your wallets, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(default)]
    pub before: Option<TransferId>,
    pub limit: u32,
}

/// A merchant bot bills the other member of a direct conversation. `total_minor` must
/// equal the sum of the items, or the invoice is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendInvoice {
    pub conversation_id: ConversationId,
    pub items: Vec<LineItem>,
    pub currency: Currency,
    pub total_minor: i64,
    #[serde(default)]
    pub payload: String,
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    pub idempotency_key: IdempotencyKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayInvoice {
    pub invoice_id: InvoiceId,
    pub idempotency_key: IdempotencyKey,
    #[serde(default)]
    pub pin: Option<String>,
}

/// The merchant gives back `amount` (all that is left when absent) of a paid invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub invoice_id: InvoiceId,
    #[serde(default)]
    pub amount: Option<Money>,
    pub idempotency_key: IdempotencyKey,
}

/// Sets (or, with `current_pin`, changes) the PIN every payment then needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPin {
    pub pin: String,
    #[serde(default)]
    pub current_pin: Option<String>,
    /// The account's password, in place of the current PIN: how a user who forgot it, or
    /// whose payments are locked for good, sets a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Revokes one of the caller's sessions; its live connections close.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevokeSession {
    pub session_id: String,
}

/// Registers one of your devices (if new) and adds its signed one-time keys and fallback key
/// to the key directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishKeys {
    pub device: super::secret::DeviceKeys,
    #[serde(default)]
    pub one_time_keys: Vec<super::secret::SignedKey>,
    #[serde(default)]
    pub fallback_key: Option<super::secret::SignedKey>,
}

/// `username`'s devices, to seal a message for each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Devices {
    pub username: String,
}

/// One key for each of these devices (by id), to start a session with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimKeys {
    pub devices: Vec<String>,
}

/// The secret conversation with `username`, created on first use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenSecret {
    pub username: String,
}

/// A message for a secret conversation, sealed for each device that may read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendSealed {
    pub conversation_id: ConversationId,
    pub client_id: ClientMsgId,
    pub sealed: super::secret::Sealed,
    /// A disappearing message: the server deletes its ciphertext this long after it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u32>,
}

/// Adds money to your wallet through a payment partner: the reply is the pending top-up with
/// the checkout page where you pay; `funding_updated` events follow it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topup {
    pub amount: Money,
    pub idempotency_key: IdempotencyKey,
    /// Which partner, when the server has more than one; its first otherwise.
    #[serde(default)]
    pub provider: Option<String>,
}

/// Sends money from your wallet to a bank account through a payment partner. The wallet is
/// debited at once; a payout that fails gives the money back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdraw {
    pub amount: Money,
    /// An IBAN; spaces are allowed.
    pub bank_account: String,
    pub idempotency_key: IdempotencyKey,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub pin: Option<String>,
}

/// Makes the unit struct of each bare request (no fields on the wire) from the list: the type
/// its handler is for.
macro_rules! bare_request_types {
    (
        bodies { $($(#[$doc:meta])* $body:ident = $body_name:literal,)* }
        bare { $($(#[$bare_doc:meta])* $bare:ident = $bare_name:literal,)* }
    ) => {
        $($(#[$bare_doc])* #[derive(Debug, Clone, Copy, PartialEq, Eq)] pub struct $bare;)*
    };
}

for_each_request!(bare_request_types);
