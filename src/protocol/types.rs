//! Identifier newtypes shared by every part of quid, so a swapped argument is a compile error.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_newtype!(
    /// A user account, assigned by the server.
    UserId(i64)
);
id_newtype!(
    /// A direct or group conversation, assigned by the server.
    ConversationId(i64)
);
id_newtype!(
    /// A message, assigned by the server; larger ids are newer within every conversation.
    MessageId(i64)
);
id_newtype!(
    /// Position in one user's stream of durable events; strictly increasing per user.
    Seq(i64)
);
id_newtype!(
    /// Position in one conversation's log of events (its messages and what happens to them);
    /// strictly increasing per conversation, in the order every member sees.
    Position(i64)
);
id_newtype!(
    /// Chosen by the client for each request so it can match the one reply.
    RequestId(u64)
);
id_newtype!(
    /// Chosen by the client for each message; the server de-duplicates on (sender, client_id).
    ClientMsgId(Uuid)
);

impl ClientMsgId {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

/// A hello's `resume_after`: absent, null, or a seq of 0 or more.
pub fn non_negative_seq<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Seq>, D::Error> {
    match Option::<Seq>::deserialize(deserializer)? {
        Some(Seq(n)) if n < 0 => Err(serde::de::Error::custom(format!(
            "resume_after must be 0 or more, not {n}"
        ))),
        seq => Ok(seq),
    }
}

impl Seq {
    /// The position before any event: "I hold nothing yet".
    pub const ZERO: Seq = Seq(0);
}

impl Position {
    /// The position before a conversation's first event.
    pub const ZERO: Position = Position(0);
}

/// Milliseconds since the Unix epoch, UTC. The only time type on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimestampMs(pub i64);

impl TimestampMs {
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }
}
