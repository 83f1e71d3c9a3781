//! The endpoint's SQL on the vault: its account, flags, trust marks, sessions, timers, what
//! disappears when, and the digests of what it opened; and one transaction for what must be
//! kept together. No cryptography here but the vault's sealing at rest.

use super::SecretError;
use super::endpoint::Endpoint;
use super::vault::{Vault, VaultError};
use crate::protocol::{ConversationId, MessageId, TimestampMs};
use rusqlite::OptionalExtension;
use vodozemac::olm::{Session, SessionPickle};

impl Endpoint {
    /// The username the vault was made for and its sealed account, if it has one.
    pub(super) fn stored_account(vault: &Vault) -> Result<Option<(String, Vec<u8>)>, SecretError> {
        vault
            .conn()
            .query_row(
                "SELECT (SELECT value FROM meta WHERE name = 'username'), sealed
                 FROM account WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| vault.sqlite(e).into())
    }

    /// Records whose vault this is, once, when it is made.
    pub(super) fn note_username(vault: &Vault, username: &str) -> Result<(), SecretError> {
        vault
            .conn()
            .execute(
                "INSERT INTO meta (name, value) VALUES ('username', ?1)",
                [username],
            )
            .map_err(|e| vault.sqlite(e))?;
        Ok(())
    }

    /// Whether this device has published a fallback key.
    pub fn fallback_published(&self) -> Result<bool, SecretError> {
        self.vault
            .conn()
            .query_row(
                "SELECT 1 FROM meta WHERE name = 'fallback_published'",
                [],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.vault.sqlite(e).into())
    }

    pub fn note_fallback_published(&self) -> Result<(), SecretError> {
        self.vault
            .conn()
            .execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('fallback_published', 1)",
                [],
            )
            .map_err(|e| self.vault.sqlite(e))?;
        Ok(())
    }

    /// Records that `username`'s pinned `device` passed a verification.
    pub fn mark_verified(&self, username: &str, device: &str) -> Result<(), SecretError> {
        self.vault
            .conn()
            .execute(
                "UPDATE pins SET verified = 1 WHERE username = ?1 AND device = ?2",
                [username, device],
            )
            .map_err(|e| self.vault.sqlite(e))?;
        Ok(())
    }

    /// The people every pinned device of whom was verified.
    pub fn verified_users(&self) -> Result<Vec<String>, SecretError> {
        let conn = self.vault.conn();
        let mut statement = conn
            .prepare("SELECT username FROM pins GROUP BY username HAVING MIN(verified) = 1")
            .map_err(|e| self.vault.sqlite(e))?;
        let users = statement
            .query_map([], |row| row.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(|e| self.vault.sqlite(e))?;
        Ok(users)
    }

    /// Who owns the pinned device `device`, if it is pinned.
    pub(super) fn owner_of(&self, device: &str) -> Result<Option<String>, SecretError> {
        self.vault
            .conn()
            .query_row(
                "SELECT username FROM pins WHERE device = ?1",
                [device],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.vault.sqlite(e).into())
    }

    /// The disappearing-message timer of `conversation`, in seconds, if one is set.
    pub fn timer(&self, conversation: ConversationId) -> Result<Option<u32>, SecretError> {
        self.vault
            .conn()
            .query_row(
                "SELECT seconds FROM timers WHERE conversation_id = ?1 AND seconds > 0",
                [conversation.0],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.vault.sqlite(e).into())
    }

    /// Sets `conversation`'s timer (0: off), as this user or the other announced it.
    pub fn set_timer(&self, conversation: ConversationId, seconds: u32) -> Result<(), SecretError> {
        set_timer_in(self.vault.conn(), conversation, seconds)
            .map_err(|e| self.vault.sqlite(e).into())
    }

    /// Forgets every disappearing message whose time is up by `now`. The store deletes
    /// securely (its pages are zeroed) and the write-ahead log is checkpointed and emptied
    /// after, so no copy of the row is left in either file.
    pub fn forget_expired(&self, now: TimestampMs) -> Result<(), SecretError> {
        let conn = self.vault.conn();
        let before = conn.total_changes();
        conn.execute_batch(&format!(
            "BEGIN;
             DELETE FROM messages WHERE id IN
                 (SELECT message_id FROM expiring WHERE expires_at_ms <= {now});
             DELETE FROM expiring WHERE expires_at_ms <= {now};
             COMMIT;",
            now = now.0
        ))
        .map_err(|e| self.vault.sqlite(e))?;
        if conn.total_changes() != before {
            self.vault.checkpoint()?;
        }
        Ok(())
    }

    pub(super) fn note_expiry(
        &self,
        conn: &rusqlite::Connection,
        id: MessageId,
        expires_at: Option<TimestampMs>,
    ) -> Result<(), SecretError> {
        if let Some(at) = expires_at {
            conn.execute(
                "INSERT OR REPLACE INTO expiring (message_id, expires_at_ms) VALUES (?1, ?2)",
                [id.0, at.0],
            )
            .map_err(|e| self.vault.sqlite(e))?;
        }
        Ok(())
    }

    pub(super) fn expiry_of(&self, id: MessageId) -> Result<Option<TimestampMs>, SecretError> {
        self.vault
            .conn()
            .query_row(
                "SELECT expires_at_ms FROM expiring WHERE message_id = ?1",
                [id.0],
                |row| row.get(0).map(TimestampMs),
            )
            .optional()
            .map_err(|e| self.vault.sqlite(e).into())
    }

    /// The message under which this device first opened the ciphertext `digest`, if any.
    pub(super) fn seen(&self, digest: &[u8]) -> Result<Option<MessageId>, SecretError> {
        self.vault
            .conn()
            .query_row(
                "SELECT message_id FROM seen WHERE digest = ?1",
                [digest],
                |row| row.get(0).map(MessageId),
            )
            .optional()
            .map_err(|e| self.vault.sqlite(e).into())
    }

    pub(super) fn mark_seen(
        &self,
        conn: &rusqlite::Connection,
        digest: &[u8],
        id: MessageId,
    ) -> Result<(), SecretError> {
        conn.execute(
            "INSERT OR IGNORE INTO seen (digest, message_id) VALUES (?1, ?2)",
            rusqlite::params![digest, id.0],
        )
        .map_err(|e| self.vault.sqlite(e))?;
        Ok(())
    }

    /// Sessions with `device`, most recently used first.
    pub(super) fn sessions_with(&self, device: &str) -> Result<Vec<Session>, SecretError> {
        let conn = self.vault.conn();
        let mut statement = conn
            .prepare(
                "SELECT session_id, sealed FROM sessions WHERE device = ?1
                 ORDER BY last_used_ms DESC, rowid DESC",
            )
            .map_err(|e| self.vault.sqlite(e))?;
        let rows = statement
            .query_map([device], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.vault.sqlite(e))?;
        rows.into_iter()
            .map(|(id, sealed)| self.unseal_session(&id, &sealed))
            .collect()
    }

    pub(super) fn latest_session(&self, device: &str) -> Result<Option<Session>, SecretError> {
        Ok(self.sessions_with(device)?.into_iter().next())
    }

    pub(super) fn unseal_session(&self, id: &str, sealed: &[u8]) -> Result<Session, SecretError> {
        let place = format!("sessions:{id}");
        let json = self.vault.unseal(&place, sealed)?;
        let pickle: SessionPickle = serde_json::from_slice(&json).map_err(|_| {
            SecretError::Vault(VaultError::Damaged {
                path: self.vault.path().to_owned(),
                what: place,
            })
        })?;
        Ok(Session::from_pickle(pickle))
    }

    pub(super) fn save_session(
        &self,
        conn: &rusqlite::Connection,
        device: &str,
        session: &Session,
    ) -> Result<(), SecretError> {
        let id = session.session_id();
        let json = serde_json::to_vec(&session.pickle()).unwrap_or_default();
        let sealed = self.vault.seal(&format!("sessions:{id}"), &json);
        let now = crate::protocol::TimestampMs::now().0;
        conn.execute(
            "INSERT OR REPLACE INTO sessions (session_id, device, last_used_ms, sealed)
             VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![id, device, now, sealed],
        )
        .map_err(|e| self.vault.sqlite(e))?;
        Ok(())
    }

    pub(super) fn save_account(&self, conn: &rusqlite::Connection) -> Result<(), SecretError> {
        let sealed = self
            .vault
            .seal("account:1", self.device.pickle().as_bytes());
        conn.execute(
            "INSERT OR REPLACE INTO account (id, sealed) VALUES (1, ?1)",
            [sealed],
        )
        .map_err(|e| self.vault.sqlite(e))?;
        Ok(())
    }

    /// Runs `f` in one transaction of the vault: all of it is kept, or none.
    pub(super) fn in_transaction(
        &self,
        f: impl FnOnce(&Endpoint, &rusqlite::Connection) -> Result<(), SecretError>,
    ) -> Result<(), SecretError> {
        let conn = self.vault.conn();
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.vault.sqlite(e))?;
        match f(self, conn) {
            Ok(()) => conn
                .execute_batch("COMMIT")
                .map_err(|e| self.vault.sqlite(e).into()),
            Err(error) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }
}

pub(super) fn set_timer_in(
    conn: &rusqlite::Connection,
    conversation: ConversationId,
    seconds: u32,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO timers (conversation_id, seconds) VALUES (?1, ?2)",
        rusqlite::params![conversation.0, seconds],
    )?;
    Ok(())
}
