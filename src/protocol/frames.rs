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

/// Makes `RequestBody` from the list, each variant named on the wire as the list names it.
macro_rules! request_body {
    (
        bodies { $($(#[$doc:meta])* $body:ident = $body_name:literal,)* }
        bare { $($(#[$bare_doc:meta])* $bare:ident = $bare_name:literal,)* }
    ) => {
        /// One of the requests a client may send; `type` on the wire names it.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type")]
        pub enum RequestBody {
            $($(#[$doc])* #[serde(rename = $body_name)] $body(requests::$body),)*
            $($(#[$bare_doc])* #[serde(rename = $bare_name)] $bare,)*
        }

        impl RequestBody {
            /// Every `type` a client may send; a frame naming another gets `unknown_type`.
            pub const TYPES: &'static [&'static str] = &[$($body_name,)* $($bare_name,)*];

            /// This request's `type` on the wire, for logs and metrics.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(RequestBody::$body(_) => $body_name,)*
                    $(RequestBody::$bare => $bare_name,)*
                }
            }
        }
    };
}

requests::for_each_request!(request_body);

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

    /// The list makes the enum, its names and its parser's table; this checks that the three
    /// agree for every entry: each name is listed once and read as that request (a bare one
    /// whole, one with a body as its type, missing its fields), and each bare request is
    /// written with its name and read back the same.
    #[test]
    fn every_request_type_round_trips_by_name() {
        let names: std::collections::BTreeSet<&str> = RequestBody::TYPES.iter().copied().collect();
        assert_eq!(names.len(), RequestBody::TYPES.len(), "a name listed twice");
        assert_eq!(
            names.len(),
            43,
            "a request added or gone: PROTOCOL.md lists each"
        );
        for name in RequestBody::TYPES {
            let frame = format!(r#"{{"id":1,"type":"{name}"}}"#);
            match Request::parse(&frame) {
                Ok(request) => {
                    assert_eq!(request.body.kind(), *name);
                    let written = serde_json::to_string(&request).unwrap();
                    assert_eq!(Request::parse(&written).unwrap(), request, "{written}");
                }
                Err(refused) => {
                    assert_eq!(refused.error.code, ErrorCode::BadFrame, "{name}");
                    let says = format!("bad {name:?} frame: missing field");
                    assert!(refused.error.message.starts_with(&says), "{refused:?}");
                }
            }
        }
        let hello = RequestBody::Hello(requests::Hello {
            version: 1,
            resume_after: None,
            positions: Vec::new(),
            client: None,
        });
        assert_eq!(hello.kind(), "hello");
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
