//! The wire protocol, shared by server and client: frame types, identifiers, error codes.
//! It owns no I/O. Any change here changes `docs/PROTOCOL.md` in the same commit.

pub mod accounts;
pub mod error;
pub mod files;
pub mod frames;
pub mod funding;
pub mod model;
pub mod payments;
pub mod requests;
pub mod results;
pub mod secret;
pub mod types;
pub mod user;

pub use error::{ApiError, ErrorCode, UNAVAILABLE_RETRY};
pub use frames::{Event, Request, RequestBody, ServerFrame};
pub use model::{Conversation, ConversationKind, Message};
pub use types::{
    ClientMsgId, ConversationId, MessageId, Position, RequestId, Seq, TimestampMs, UserId,
};
pub use user::User;

/// The one protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 2;

/// Default limit on one frame; the server refuses larger ones and closes the connection.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;

/// The websocket path, versioned so a future protocol can live beside this one.
pub const WS_PATH: &str = "/v1";
