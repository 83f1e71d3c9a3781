//! The messages this endpoint opened, as the vault keeps them. Each is bound to the message as
//! it was read: its id, conversation, sender, sender device and a digest of its ciphertext,
//! in the clear (to tell a mismatch from damage) and as the AEAD's associated data (so the
//! store itself cannot be made to lie). A server that hands an old id back with another
//! conversation, sender or ciphertext gets a marked refusal, never the old text in a new voice.
//! Also here: which conversations are known to be secret, so a plain message there is marked.

use super::SecretError;
use super::endpoint::Endpoint;
use super::message::{Binding, Opened, Stored};
use super::vault::VaultError;
use crate::protocol::{ConversationId, Message, MessageId};
use rusqlite::OptionalExtension;

/// Why a plain message in a secret conversation is not shown.
fn not_encrypted(sender: &str) -> String {
    format!(
        "not encrypted: the server sent this in the clear, so it is not {sender}'s words; \
         not shown"
    )
}

type Row = (
    ConversationId,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Vec<u8>,
);

impl Endpoint {
    /// What the vault holds for message `id`, checked against `binding`.
    pub(super) fn lookup(&self, id: MessageId, binding: &Binding) -> Result<Stored, SecretError> {
        let row: Option<Row> = self
            .vault
            .conn()
            .query_row(
                "SELECT conversation_id, sender, sender_device, digest, sealed
                 FROM messages WHERE id = ?1",
                [id.0],
                |row| {
                    Ok((
                        ConversationId(row.get(0)?),
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.vault.sqlite(e))?;
        let Some((conversation, sender, sender_device, digest, sealed)) = row else {
            return Ok(Stored::Nothing);
        };
        let (Some(sender), Some(sender_device), Some(digest)) = (sender, sender_device, digest)
        else {
            return self.lookup_unbound(id, conversation, binding, &sealed);
        };
        let stored = Binding {
            conversation,
            sender,
            sender_device,
            digest,
        };
        if stored != *binding {
            return Ok(Stored::Other);
        }
        Ok(Stored::Same(
            self.unseal_opened(&binding.place(id), &sealed)?,
        ))
    }

    /// A row kept before messages were bound (only its id and conversation): it is taken as
    /// this message when the conversation matches and the ciphertext is the one this device
    /// opened under that id (or, for one it sent, the sender is this device), and bound now.
    fn lookup_unbound(
        &self,
        id: MessageId,
        conversation: ConversationId,
        binding: &Binding,
        sealed: &[u8],
    ) -> Result<Stored, SecretError> {
        let sent_here =
            binding.sender_device == self.device_id() && binding.sender == self.me().username;
        let seen: Option<Vec<u8>> = self
            .vault
            .conn()
            .query_row(
                "SELECT digest FROM seen WHERE message_id = ?1",
                [id.0],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.vault.sqlite(e))?;
        let same_ciphertext = seen.as_deref() == Some(binding.digest.as_slice());
        if conversation != binding.conversation || !(sent_here || same_ciphertext) {
            return Ok(Stored::Other);
        }
        let opened = self.unseal_opened(&format!("messages:{}", id.0), sealed)?;
        self.store_opened(self.vault.conn(), id, binding, &opened)?;
        Ok(Stored::Same(opened))
    }

    pub(super) fn store_opened(
        &self,
        conn: &rusqlite::Connection,
        id: MessageId,
        binding: &Binding,
        opened: &Opened,
    ) -> Result<(), SecretError> {
        let json = serde_json::to_vec(opened).unwrap_or_default();
        let sealed = self.vault.seal(&binding.place(id), &json);
        conn.execute(
            "INSERT OR REPLACE INTO messages
                 (id, conversation_id, sender, sender_device, digest, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                id.0,
                binding.conversation.0,
                binding.sender,
                binding.sender_device,
                binding.digest,
                sealed
            ],
        )
        .map_err(|e| self.vault.sqlite(e))?;
        conn.execute(
            "INSERT OR IGNORE INTO secret_conversations (conversation_id) VALUES (?1)",
            [binding.conversation.0],
        )
        .map_err(|e| self.vault.sqlite(e))?;
        Ok(())
    }

    fn unseal_opened(&self, place: &str, sealed: &[u8]) -> Result<Opened, SecretError> {
        let json = self.vault.unseal(place, sealed)?;
        serde_json::from_slice(&json).map_err(|_| {
            SecretError::Vault(VaultError::Damaged {
                path: self.vault.path().to_owned(),
                what: place.to_owned(),
            })
        })
    }

    /// Records that `conversation` is secret (the user opened it as such, or it holds sealed
    /// messages): from then on a plain message there is marked, whatever the server says.
    pub fn note_secret(&self, conversation: ConversationId) -> Result<(), SecretError> {
        self.vault
            .conn()
            .execute(
                "INSERT OR IGNORE INTO secret_conversations (conversation_id) VALUES (?1)",
                [conversation.0],
            )
            .map_err(|e| self.vault.sqlite(e))?;
        Ok(())
    }

    /// Every conversation known here to be secret.
    pub fn secret_conversations(&self) -> Result<Vec<ConversationId>, SecretError> {
        let conn = self.vault.conn();
        let mut statement = conn
            .prepare("SELECT conversation_id FROM secret_conversations ORDER BY conversation_id")
            .map_err(|e| self.vault.sqlite(e))?;
        let ids = statement
            .query_map([], |row| row.get(0).map(ConversationId))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.vault.sqlite(e))?;
        Ok(ids)
    }

    pub fn is_secret(&self, conversation: ConversationId) -> Result<bool, SecretError> {
        self.vault
            .conn()
            .query_row(
                "SELECT 1 FROM secret_conversations WHERE conversation_id = ?1",
                [conversation.0],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.vault.sqlite(e).into())
    }

    /// Why `message` must not be shown as its sender's words: it is plain text (neither
    /// sealed, nor a payment's card, nor deleted) in a conversation known to be secret.
    pub fn plain_in_secret(&self, message: &Message) -> Result<Option<String>, SecretError> {
        if message.sealed.is_some() || message.card.is_some() || message.deleted {
            return Ok(None);
        }
        Ok(self
            .is_secret(message.conversation_id)?
            .then(|| not_encrypted(&message.sender.username)))
    }

    /// The messages of `conversation` opened here, oldest first.
    pub fn history(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<(MessageId, Opened)>, SecretError> {
        let conn = self.vault.conn();
        let mut statement = conn
            .prepare(
                "SELECT id, sender, sender_device, digest, sealed FROM messages
                 WHERE conversation_id = ?1 ORDER BY id",
            )
            .map_err(|e| self.vault.sqlite(e))?;
        let rows = statement
            .query_map([conversation.0], |row| {
                let binding = match (row.get(1)?, row.get(2)?, row.get(3)?) {
                    (Some(sender), Some(sender_device), Some(digest)) => Some(Binding {
                        conversation,
                        sender,
                        sender_device,
                        digest,
                    }),
                    _ => None,
                };
                Ok((MessageId(row.get(0)?), binding, row.get::<_, Vec<u8>>(4)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.vault.sqlite(e))?;
        rows.into_iter()
            .map(|(id, binding, sealed)| {
                let place = match binding {
                    Some(binding) => binding.place(id),
                    None => format!("messages:{}", id.0),
                };
                Ok((id, self.unseal_opened(&place, &sealed)?))
            })
            .collect()
    }
}
