//! Frames: every websocket text message is one JSON object of one of these shapes.
//! `docs/PROTOCOL.md` documents each with an example; keep the two in step.

use super::error::{ApiError, ErrorCode};
use super::funding::Funding;
use super::model::{Conversation, Message};
use super::payments::{Invoice, PaymentRequest};
use super::requests;
use super::types::{ConversationId, MessageId, Position, RequestId, Seq};
use super::user::User;
use serde::{Deserialize, Serialize};

/// A client request: a client-chosen `id` plus one of the request bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: RequestId,
    #[serde(flatten)]
    pub body: RequestBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequestBody {
    Hello(requests::Hello),
    Register(requests::Register),
    Login(requests::Login),
    /// Revokes this connection's token and closes the connection.
    Logout,
    Conversations,
    OpenDirect(requests::OpenDirect),
    CreateGroup(requests::CreateGroup),
    AddMember(requests::AddMember),
    Leave(requests::Leave),
    Mute(requests::Mute),
    Send(requests::Send),
    EditMessage(requests::EditMessage),
    DeleteMessage(requests::DeleteMessage),
    React(requests::React),
    History(requests::History),
    Search(requests::Search),
    MarkRead(requests::MarkRead),
    Typing(requests::Typing),
    /// Your wallet balances.
    Balance,
    Pay(requests::Pay),
    RequestMoney(requests::RequestMoney),
    Split(requests::Split),
    PayRequest(requests::PayRequest),
    DeclineRequest(requests::DeclineRequest),
    CancelRequest(requests::CancelRequest),
    /// Requests you made or were asked to pay, open ones first.
    Requests,
    Statement(requests::Statement),
    SendInvoice(requests::SendInvoice),
    PayInvoice(requests::PayInvoice),
    Refund(requests::Refund),
    /// Invoices you sent or were sent, open ones first.
    Invoices,
    SetPin(requests::SetPin),
    /// The caller's sessions: where and when each was last used.
    Sessions,
    RevokeSession(requests::RevokeSession),
    PublishKeys(requests::PublishKeys),
    Devices(requests::Devices),
    ClaimKeys(requests::ClaimKeys),
    OpenSecret(requests::OpenSecret),
    SendSealed(requests::SendSealed),
    Topup(requests::Topup),
    Withdraw(requests::Withdraw),
    /// Your top-ups and payouts, newest first.
    Fundings,
}

impl RequestBody {
    /// Every `type` a client may send; a frame naming another gets `unknown_type`.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "register",
        "login",
        "logout",
        "conversations",
        "open_direct",
        "create_group",
        "add_member",
        "leave",
        "mute",
        "send",
        "edit_message",
        "delete_message",
        "react",
        "history",
        "search",
        "mark_read",
        "typing",
        "balance",
        "pay",
        "request_money",
        "split",
        "pay_request",
        "decline_request",
        "cancel_request",
        "requests",
        "statement",
        "set_pin",
        "send_invoice",
        "pay_invoice",
        "refund",
        "invoices",
        "sessions",
        "revoke_session",
        "publish_keys",
        "devices",
        "claim_keys",
        "open_secret",
        "send_sealed",
        "topup",
        "withdraw",
        "fundings",
    ];

    /// This request's `type` on the wire, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RequestBody::Hello(_) => "hello",
            RequestBody::Register(_) => "register",
            RequestBody::Login(_) => "login",
            RequestBody::Logout => "logout",
            RequestBody::Conversations => "conversations",
            RequestBody::OpenDirect(_) => "open_direct",
            RequestBody::CreateGroup(_) => "create_group",
            RequestBody::AddMember(_) => "add_member",
            RequestBody::Leave(_) => "leave",
            RequestBody::Mute(_) => "mute",
            RequestBody::Send(_) => "send",
            RequestBody::EditMessage(_) => "edit_message",
            RequestBody::DeleteMessage(_) => "delete_message",
            RequestBody::React(_) => "react",
            RequestBody::History(_) => "history",
            RequestBody::Search(_) => "search",
            RequestBody::MarkRead(_) => "mark_read",
            RequestBody::Typing(_) => "typing",
            RequestBody::Balance => "balance",
            RequestBody::Pay(_) => "pay",
            RequestBody::RequestMoney(_) => "request_money",
            RequestBody::Split(_) => "split",
            RequestBody::PayRequest(_) => "pay_request",
            RequestBody::DeclineRequest(_) => "decline_request",
            RequestBody::CancelRequest(_) => "cancel_request",
            RequestBody::Requests => "requests",
            RequestBody::Statement(_) => "statement",
            RequestBody::SendInvoice(_) => "send_invoice",
            RequestBody::PayInvoice(_) => "pay_invoice",
            RequestBody::Refund(_) => "refund",
            RequestBody::Invoices => "invoices",
            RequestBody::SetPin(_) => "set_pin",
            RequestBody::Sessions => "sessions",
            RequestBody::RevokeSession(_) => "revoke_session",
            RequestBody::PublishKeys(_) => "publish_keys",
            RequestBody::Devices(_) => "devices",
            RequestBody::ClaimKeys(_) => "claim_keys",
            RequestBody::OpenSecret(_) => "open_secret",
            RequestBody::SendSealed(_) => "send_sealed",
            RequestBody::Topup(_) => "topup",
            RequestBody::Withdraw(_) => "withdraw",
            RequestBody::Fundings => "fundings",
        }
    }
}

/// Why a text frame could not be turned into a [`Request`]. Carries the id when one was readable,
/// so the error reply can still be matched.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub id: Option<RequestId>,
    pub error: ApiError,
}

impl Request {
    /// Parses one client frame, telling a malformed frame (`bad_frame`) from a well-formed one
    /// of a type this version does not know (`unknown_type`).
    pub fn parse(text: &str) -> Result<Request, FrameError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| FrameError {
            id: None,
            error: ApiError::new(ErrorCode::BadFrame, format!("frame is not valid JSON: {e}")),
        })?;
        let id = value
            .get("id")
            .and_then(serde_json::Value::as_u64)
            .map(RequestId);
        let bad = |message: String| FrameError {
            id,
            error: ApiError::new(ErrorCode::BadFrame, message),
        };
        if id.is_none() {
            return Err(bad("frame needs a numeric \"id\"".into()));
        }
        let kind = match value.get("type").and_then(serde_json::Value::as_str) {
            Some(kind) => kind.to_owned(),
            None => return Err(bad("frame needs a string \"type\"".into())),
        };
        if !RequestBody::TYPES.contains(&kind.as_str()) {
            return Err(FrameError {
                id,
                error: ApiError::new(
                    ErrorCode::UnknownType,
                    format!("unknown frame type {kind:?}"),
                ),
            });
        }
        serde_json::from_value(value).map_err(|e| bad(format!("bad {kind:?} frame: {e}")))
    }
}

/// Everything the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The success reply to request `id`; `result`'s shape depends on the request.
    Ok {
        id: RequestId,
        result: serde_json::Value,
    },
    /// The failure reply to request `id` (absent when the frame's id could not be read).
    Error {
        id: Option<RequestId>,
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// A durable event of the user's own stream; `seq` is strictly increasing per user.
    Event { seq: Seq, event: Event },
    /// A durable event of a conversation's log, the same frame for every member; `pos` is
    /// strictly increasing per conversation.
    ConversationEvent {
        conversation_id: ConversationId,
        pos: Position,
        event: Event,
    },
    /// Replay after the hello's `resume_after` is complete; live events follow.
    CaughtUp { seq: Seq },
    /// Ephemeral: `user` is typing in `conversation_id`. No seq; never replayed.
    Typing {
        conversation_id: ConversationId,
        user: User,
    },
}

impl ServerFrame {
    pub fn error(id: Option<RequestId>, error: ApiError) -> Self {
        ServerFrame::Error {
            id,
            code: error.code,
            message: error.message,
            retry_after_ms: error.retry_after_ms,
        }
    }
}

/// Durable events, stored per user and replayed on resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A message in one of your conversations (yours included, so other devices see it).
    Message { message: Message },
    /// A message was edited, deleted or reacted to: its state now.
    MessageUpdated { message: Message },
    /// You became a member of a conversation (created it, were added, or were messaged first).
    Joined { conversation: Conversation },
    /// Your own view of a conversation changed (you muted it on another device).
    ConversationUpdated { conversation: Conversation },
    /// Someone else joined a conversation you are in.
    MemberJoined {
        conversation_id: ConversationId,
        user: User,
    },
    /// A member (possibly you) left a conversation.
    MemberLeft {
        conversation_id: ConversationId,
        user: User,
    },
    /// A member (possibly you, on another device) has read up to `up_to`.
    Read {
        conversation_id: ConversationId,
        user: User,
        up_to: MessageId,
    },
    /// A payment request in one of your conversations changed: paid, declined, cancelled,
    /// expired. Its card is the message whose `card` names this request.
    RequestUpdated { request: Box<PaymentRequest> },
    /// An invoice was paid; the merchant's bot learns it here, with its payload.
    InvoicePaid { invoice: Box<Invoice> },
    /// An invoice changed otherwise: refunded, expired.
    InvoiceUpdated { invoice: Box<Invoice> },
    /// A claim left one of your devices with few one-time keys (0: it handed out its
    /// fallback key): that device should publish more.
    KeysLow { device: String, one_time_keys: u32 },
    /// One of your top-ups or payouts changed: created, paid, declined, returned.
    FundingUpdated { funding: Box<Funding> },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tells_bad_frames_from_unknown_types() {
        let bad_json = Request::parse("{nope").unwrap_err();
        assert_eq!(bad_json.error.code, ErrorCode::BadFrame);
        assert_eq!(bad_json.id, None);

        let unknown = Request::parse(r#"{"id":4,"type":"teleport"}"#).unwrap_err();
        assert_eq!(unknown.error.code, ErrorCode::UnknownType);
        assert_eq!(unknown.id, Some(RequestId(4)));

        let missing_field = Request::parse(r#"{"id":5,"type":"send","text":"hi"}"#).unwrap_err();
        assert_eq!(missing_field.error.code, ErrorCode::BadFrame);
        assert_eq!(missing_field.id, Some(RequestId(5)));
        assert!(missing_field.error.message.contains("send"));
    }

    #[test]
    fn every_kind_is_a_known_type() {
        let pay = RequestBody::Logout;
        assert_eq!(pay.kind(), "logout");
        let hello = RequestBody::Hello(requests::Hello {
            version: 1,
            resume_after: None,
            positions: Vec::new(),
            client: None,
        });
        assert_eq!(hello.kind(), "hello");
        assert!(
            RequestBody::TYPES.contains(
                &RequestBody::SetPin(requests::SetPin {
                    pin: String::new(),
                    current_pin: None,
                    password: None,
                })
                .kind()
            )
        );
    }

    #[test]
    fn requests_round_trip_through_json() {
        let request = Request {
            id: RequestId(7),
            body: RequestBody::History(requests::History {
                conversation_id: ConversationId(3),
                before: Some(MessageId(99)),
                limit: 20,
            }),
        };
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(Request::parse(&text).unwrap(), request);
        let unit = serde_json::to_string(&Request {
            id: RequestId(1),
            body: RequestBody::Logout,
        })
        .unwrap();
        assert_eq!(unit, r#"{"id":1,"type":"logout"}"#);
    }
}
