//! Secret messages written while offline. They cannot be sealed yet (the devices to seal for,
//! and keys for new ones, come from the server), so the text waits in the secret store,
//! encrypted at rest like everything there, and the session seals and sends each once it is
//! back, under the client id it was written with (the server keeps one message per client id,
//! so a send cut off halfway and repeated is still one message).

use super::SecretError;
use super::endpoint::Endpoint;
use crate::protocol::{ClientMsgId, ConversationId, TimestampMs};
use rusqlite::params;

/// A secret message waiting to be sealed and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub client_id: ClientMsgId,
    pub conversation_id: ConversationId,
    /// The other person of the conversation.
    pub other: String,
    pub text: String,
}

impl Endpoint {
    /// Keeps `waiting` until [`Endpoint::forget_waiting`]; holding it twice keeps it once.
    pub fn hold(&self, waiting: &Waiting, now: TimestampMs) -> Result<(), SecretError> {
        let vault = &self.vault;
        let client_id = waiting.client_id.0.to_string();
        let sealed = vault.seal(&place(&client_id), waiting.text.as_bytes());
        vault
            .conn()
            .execute(
                "INSERT OR IGNORE INTO outbox
                     (client_id, conversation_id, other, queued_at_ms, sealed)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    client_id,
                    waiting.conversation_id.0,
                    waiting.other,
                    now.0,
                    sealed
                ],
            )
            .map_err(|e| vault.sqlite(e))?;
        Ok(())
    }

    /// What waits, in the order it was written.
    pub fn waiting(&self) -> Result<Vec<Waiting>, SecretError> {
        let vault = &self.vault;
        let mut statement = vault
            .conn()
            .prepare(
                "SELECT client_id, conversation_id, other, sealed FROM outbox
                 ORDER BY queued_at_ms, rowid",
            )
            .map_err(|e| vault.sqlite(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    ConversationId(row.get(1)?),
                    row.get::<_, String>(2)?,
                    row.get::<_, Vec<u8>>(3)?,
                ))
            })
            .map_err(|e| vault.sqlite(e))?;
        let mut waiting = Vec::new();
        for row in rows {
            let (client_id, conversation_id, other, sealed) = row.map_err(|e| vault.sqlite(e))?;
            let text = vault.unseal(&place(&client_id), &sealed)?;
            waiting.push(Waiting {
                client_id: ClientMsgId(client_id.parse().map_err(|_| self.damaged(&client_id))?),
                conversation_id,
                other,
                text: String::from_utf8(text).map_err(|_| self.damaged(&client_id))?,
            });
        }
        Ok(waiting)
    }

    /// Sent, or given back to its writer: it waits no more.
    pub fn forget_waiting(&self, client_id: ClientMsgId) -> Result<(), SecretError> {
        let vault = &self.vault;
        vault
            .conn()
            .execute(
                "DELETE FROM outbox WHERE client_id = ?1",
                [client_id.0.to_string()],
            )
            .map_err(|e| vault.sqlite(e))?;
        Ok(())
    }

    fn damaged(&self, client_id: &str) -> SecretError {
        SecretError::Vault(super::vault::VaultError::Damaged {
            path: self.vault.path().to_owned(),
            what: place(client_id),
        })
    }
}

/// Where a waiting text is sealed: bound to its row, so it cannot be moved to another.
fn place(client_id: &str) -> String {
    format!("outbox:{client_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::vault::Unlock;

    fn waiting(text: &str) -> Waiting {
        Waiting {
            client_id: ClientMsgId::random(),
            conversation_id: ConversationId(7),
            other: "bob".into(),
            text: text.into(),
        }
    }

    #[test]
    fn what_waits_survives_a_restart_in_order_once_and_never_in_the_clear() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = Endpoint::open(dir.path(), "alice", &Unlock::KeyFile).unwrap();
        let (first, second) = (waiting("the code is 4711"), waiting("and the door 0815"));
        endpoint.hold(&first, TimestampMs(1)).unwrap();
        endpoint.hold(&second, TimestampMs(2)).unwrap();
        endpoint.hold(&first, TimestampMs(3)).unwrap();
        drop(endpoint);

        let endpoint = Endpoint::open(dir.path(), "alice", &Unlock::KeyFile).unwrap();
        assert_eq!(endpoint.waiting().unwrap(), [first.clone(), second.clone()]);
        endpoint.forget_waiting(first.client_id).unwrap();
        assert_eq!(endpoint.waiting().unwrap(), [second]);
        drop(endpoint);
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let file = file.unwrap().path();
            let bytes = std::fs::read(&file).unwrap();
            let found = bytes.windows(4).any(|w| w == b"4711" || w == b"0815");
            assert!(!found, "a waiting text in the clear in {}", file.display());
        }
    }
}
