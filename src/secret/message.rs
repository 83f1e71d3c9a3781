//! A sealed message as this device knows it: what it says once opened, and what it is bound
//! to (its conversation, sender, sender device and a digest of its ciphertext), so that a
//! server handing an old id back as another message is caught.

use super::verify::Step;
use crate::protocol::secret::{Sealed, SealedCopy};
use crate::protocol::{ConversationId, Message, MessageId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a sealed message says to this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Opened {
    Text(String),
    /// A step of an interactive verification (`super::verify`).
    Verify(Step),
    /// The conversation's disappearing-message timer was set to this many seconds (0: off).
    Timer(u32),
    /// It cannot be read here, and why.
    Unreadable(String),
}

/// What an opened message is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Binding {
    pub conversation: ConversationId,
    pub sender: String,
    pub sender_device: String,
    /// SHA-256 of this device's copy; of every copy for a message with none for it (one
    /// this device sent, or one sealed before it existed).
    pub digest: Vec<u8>,
}

impl Binding {
    pub fn of(message: &Message, sealed: &Sealed, my_device: &str) -> Binding {
        let digest = match sealed.copy_for(my_device) {
            Some(copy) => copy_digest(copy),
            None => every_copy_digest(sealed),
        };
        Binding {
            conversation: message.conversation_id,
            sender: message.sender.username.clone(),
            sender_device: sealed.sender_device.clone(),
            digest,
        }
    }

    /// The vault's associated data for message `id` under this binding.
    pub(super) fn place(&self, id: MessageId) -> String {
        format!(
            "messages:{}:{}:{}:{}:{}",
            id.0,
            self.conversation.0,
            self.sender,
            self.sender_device,
            hex::encode(&self.digest)
        )
    }
}

/// What the vault holds under a message id, against the message as read now.
pub(super) enum Stored {
    Nothing,
    /// Opened before, bound to this very message.
    Same(Opened),
    /// The id was opened before as another message: the server reused it.
    Other,
}

/// SHA-256 of one device's copy, as the replay check keeps it.
fn copy_digest(copy: &SealedCopy) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(copy.device.as_bytes());
    hash.update([0]);
    hash.update(copy.body.as_bytes());
    hash.finalize().to_vec()
}

fn every_copy_digest(sealed: &Sealed) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(sealed.sender_device.as_bytes());
    for copy in &sealed.copies {
        hash.update([0]);
        hash.update(copy_digest(copy));
    }
    hash.finalize().to_vec()
}

/// Why a message whose id was opened before as another is not shown.
pub(super) fn reused_id(id: MessageId) -> Opened {
    Opened::Unreadable(format!(
        "the server sent message {} again as a different message (another sender, \
         conversation or ciphertext): not shown",
        id.0
    ))
}

/// What a timer announcement says, as a line in the conversation.
pub fn describe_timer(seconds: u32) -> String {
    match seconds {
        0 => "⏱ turned disappearing messages off".to_owned(),
        seconds => format!(
            "⏱ set messages to disappear after {}",
            format_duration(seconds)
        ),
    }
}

/// `90` → "1m 30s", `3600` → "1h", `86400` → "1d".
pub fn format_duration(seconds: u32) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut left = seconds;
    let mut parts = Vec::new();
    for (size, unit) in units {
        if left >= size {
            parts.push(format!("{}{unit}", left / size));
            left %= size;
        }
    }
    parts.join(" ")
}
