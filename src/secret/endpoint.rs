//! One end of secret conversations: this profile's device, its sessions with other devices,
//! the identity keys it pinned, and the messages it opened, all kept in the vault. No I/O but
//! the vault's file: the caller asks the server for keys and devices and hands them in.
//!
//! Opening a message commits its text, the advanced session and the ciphertext's digest in
//! one transaction, so that a crash loses no message key and nothing is decrypted twice; a
//! ciphertext seen before is dropped before decryption.

use super::device::{Device, fingerprint};
use super::message::{Binding, Opened, Stored, reused_id};
use super::vault::{Unlock, Vault, VaultError};
use super::verify::{Party, Step};
use crate::protocol::requests::PublishKeys;
use crate::protocol::secret::{
    ClaimedKey, DeviceKeys, KeyError, KeyKind, Sealed, SealedCopy, verify_device,
};
use crate::protocol::{ConversationId, Message, MessageId, TimestampMs};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use std::path::Path;
use vodozemac::olm::{OlmMessage, Session, SessionPickle};

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

/// A sealed message as read, and whether this was the first time (a verification step is
/// acted on once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub opened: Opened,
    pub fresh: bool,
    /// A disappearing message: when it goes, by the time sealed inside it.
    pub expires_at: Option<TimestampMs>,
}

/// What is shown for a message that is not kept (a reused id, a replay): marked, and the same
/// every time it comes.
fn not_kept(opened: Opened) -> Read {
    Read {
        opened,
        fresh: false,
        expires_at: None,
    }
}

/// What travels inside an Olm message: the text, or a verification step.
#[derive(Serialize, Deserialize)]
struct Plaintext {
    text: String,
    /// When the sender sealed it (ms since the epoch, the sender's clock): a disappearing
    /// message counts from here, not from when the server says it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_at: Option<TimestampMs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verify: Option<Step>,
    /// This message disappears this long after it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_in_secs: Option<u32>,
    /// Announces the conversation's timer (0: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timer: Option<u32>,
}

impl Plaintext {
    fn new(text: String) -> Plaintext {
        Plaintext {
            text,
            sealed_at: Some(TimestampMs::now()),
            verify: None,
            expires_in_secs: None,
            timer: None,
        }
    }

    /// When a disappearing message goes: its lifetime after the time sealed inside it (a
    /// message from a client that sealed no time counts from `server_sent_at`).
    fn expires_at(&self, server_sent_at: TimestampMs) -> Option<TimestampMs> {
        let from = self.sealed_at.unwrap_or(server_sent_at);
        self.expires_in_secs
            .map(|secs| TimestampMs(from.0 + i64::from(secs) * 1000))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("{}", keys_changed(.username, *.mine, .devices))]
    KeysChanged {
        username: String,
        /// The user's own devices changed (a device of theirs they may not have added).
        mine: bool,
        devices: Vec<DeviceKeys>,
    },
    #[error(
        "{username}'s devices changed since the warning: the server now lists {} as new. \
         Nothing was accepted; check these with {username}, then accept again",
        describe(.devices)
    )]
    ListChanged {
        username: String,
        devices: Vec<DeviceKeys>,
    },
    #[error(
        "{username} has no device for secret conversations yet: they must log in with quid once"
    )]
    NoDevices { username: String },
    #[error("{username}'s device {device} is not known here: fetch {username}'s devices first")]
    UnknownDevice { username: String, device: String },
    #[error("no session with device {device}: claim one of its keys first")]
    NoSession { device: String },
    #[error("cannot start a session with {username}'s device {device}: {reason}")]
    Session {
        username: String,
        device: String,
        reason: String,
    },
    #[error("this store belongs to {found}, not {expected}")]
    OtherUser { found: String, expected: String },
}

fn keys_changed(username: &str, mine: bool, devices: &[DeviceKeys]) -> String {
    if mine {
        return format!(
            "your own devices changed: {} not seen before on this account. If you did not set \
             it up, someone who controls the server may have; accept it only if it is yours",
            describe(devices)
        );
    }
    format!(
        "{username}'s identity keys changed: {} not seen before. Anyone who controls the \
         server could do this; check with {username} in person, then accept the new keys",
        describe(devices)
    )
}

/// Devices by their full fingerprints.
pub(super) fn describe(devices: &[DeviceKeys]) -> String {
    let shown: Vec<String> = devices.iter().map(fingerprint).collect();
    match shown.as_slice() {
        [one] => format!("device {one}"),
        many => format!("devices {}", many.join("; ")),
    }
}

pub struct Endpoint {
    pub(super) vault: Vault,
    pub(super) device: Device,
}

impl Endpoint {
    /// The endpoint kept in `dir` for `username`, made on first use.
    pub fn open(dir: &Path, username: &str, unlock: &Unlock) -> Result<Endpoint, SecretError> {
        let vault = Vault::open(dir, unlock)?;
        let stored: Option<(String, Vec<u8>)> = vault
            .conn()
            .query_row(
                "SELECT (SELECT value FROM meta WHERE name = 'username'), sealed
                 FROM account WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| vault.sqlite(e))?;
        let device = match stored {
            Some((found, _)) if found != username => {
                return Err(SecretError::OtherUser {
                    found,
                    expected: username.to_owned(),
                });
            }
            Some((_, sealed)) => {
                let pickle = vault.unseal("account:1", &sealed)?;
                let pickle = String::from_utf8_lossy(&pickle);
                Device::from_pickle(username, &pickle).map_err(|_| VaultError::Damaged {
                    path: vault.path().to_owned(),
                    what: "the device's account".into(),
                })?
            }
            None => {
                let device = Device::new(username);
                vault
                    .conn()
                    .execute(
                        "INSERT INTO meta (name, value) VALUES ('username', ?1)",
                        [username],
                    )
                    .map_err(|e| vault.sqlite(e))?;
                device
            }
        };
        let endpoint = Endpoint { vault, device };
        endpoint.save_account(endpoint.vault.conn())?;
        Ok(endpoint)
    }

    pub fn device_id(&self) -> String {
        self.device.id()
    }

    pub fn device_keys(&self) -> DeviceKeys {
        self.device.keys()
    }

    /// `count` new one-time keys (and a new fallback key, if asked) to publish, with this
    /// device's identity. The account is saved first: a key published and then lost with the
    /// process would make a message sealed to it unreadable.
    pub fn keys_to_publish(
        &mut self,
        count: usize,
        fallback: bool,
    ) -> Result<PublishKeys, SecretError> {
        let one_time_keys = self.device.one_time_keys(count);
        let fallback_key = if fallback {
            self.device.fallback_key()
        } else {
            None
        };
        self.save_account(self.vault.conn())?;
        Ok(PublishKeys {
            device: self.device.keys(),
            one_time_keys,
            fallback_key,
        })
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

    /// This device, as a party to a verification.
    pub fn me(&self) -> Party {
        let keys = self.device.keys();
        Party {
            username: keys.username,
            device: keys.curve25519,
            ed25519: keys.ed25519,
        }
    }

    /// `username`'s device `device` as pinned here, as a party to a verification.
    pub fn pinned(&self, username: &str, device: &str) -> Result<Option<Party>, SecretError> {
        let pinned = self.pins(username)?;
        Ok(pinned
            .into_iter()
            .find(|(id, _)| id == device)
            .map(|(device, ed25519)| Party {
                username: username.to_owned(),
                device,
                ed25519,
            }))
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
    fn owner_of(&self, device: &str) -> Result<Option<String>, SecretError> {
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

    /// The devices among `devices` (not this one) this endpoint has no session with.
    pub fn without_session(&self, devices: &[DeviceKeys]) -> Result<Vec<String>, SecretError> {
        let mut missing = Vec::new();
        for device in devices.iter().filter(|d| d.curve25519 != self.device_id()) {
            if self.latest_session(&device.curve25519)?.is_none() {
                missing.push(device.curve25519.clone());
            }
        }
        Ok(missing)
    }

    /// Starts a session on each claimed key, once the key and its device check out against
    /// the pins.
    pub fn start_sessions(&mut self, claimed: &[ClaimedKey]) -> Result<(), SecretError> {
        for claim in claimed {
            let keys = &claim.device;
            let pinned = self.pins(&keys.username)?;
            if !pinned.contains(&(keys.curve25519.clone(), keys.ed25519.clone())) {
                return Err(SecretError::UnknownDevice {
                    username: keys.username.clone(),
                    device: keys.curve25519.clone(),
                });
            }
            let device = verify_device(keys)?;
            let kind = if claim.fallback {
                KeyKind::Fallback
            } else {
                KeyKind::OneTime
            };
            let key = device.verify_key(kind, &claim.key)?;
            let session =
                self.device
                    .start_session(&device, key)
                    .map_err(|e| SecretError::Session {
                        username: keys.username.clone(),
                        device: keys.curve25519.clone(),
                        reason: e.to_string(),
                    })?;
            self.save_session(self.vault.conn(), &keys.curve25519, &session)?;
        }
        Ok(())
    }

    /// `text` sealed for each of `devices` (this one left out), on the newest session with
    /// each; the advanced sessions are saved together.
    pub fn seal(
        &mut self,
        text: &str,
        expires_in_secs: Option<u32>,
        devices: &[DeviceKeys],
    ) -> Result<Sealed, SecretError> {
        let content = Plaintext {
            expires_in_secs,
            ..Plaintext::new(text.to_owned())
        };
        self.seal_content(&content, devices)
    }

    /// An announcement that the conversation's timer is now `seconds` (0: off).
    pub fn seal_timer(
        &mut self,
        seconds: u32,
        devices: &[DeviceKeys],
    ) -> Result<Sealed, SecretError> {
        let content = Plaintext {
            timer: Some(seconds),
            ..Plaintext::new(String::new())
        };
        self.seal_content(&content, devices)
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

    /// A verification step sealed for `devices`.
    pub fn seal_step(&mut self, step: Step, devices: &[DeviceKeys]) -> Result<Sealed, SecretError> {
        let content = Plaintext {
            verify: Some(step),
            ..Plaintext::new(String::new())
        };
        self.seal_content(&content, devices)
    }

    fn seal_content(
        &mut self,
        content: &Plaintext,
        devices: &[DeviceKeys],
    ) -> Result<Sealed, SecretError> {
        let plaintext = serde_json::to_vec(content).unwrap_or_default();
        let mut copies = Vec::new();
        let mut advanced = Vec::new();
        for device in devices.iter().filter(|d| d.curve25519 != self.device_id()) {
            let mut session =
                self.latest_session(&device.curve25519)?
                    .ok_or_else(|| SecretError::NoSession {
                        device: device.curve25519.clone(),
                    })?;
            let (message_type, body) = session
                .encrypt(&plaintext)
                .map_err(|e| SecretError::Session {
                    username: device.username.clone(),
                    device: device.curve25519.clone(),
                    reason: e.to_string(),
                })?
                .to_parts();
            copies.push(SealedCopy {
                device: device.curve25519.clone(),
                message_type: u8::try_from(message_type).unwrap_or(u8::MAX),
                body: BASE64.encode(body),
            });
            advanced.push((device.curve25519.clone(), session));
        }
        self.in_transaction(|endpoint, tx| {
            for (device, session) in &advanced {
                endpoint.save_session(tx, device, session)?;
            }
            Ok(())
        })?;
        Ok(Sealed {
            sender_device: self.device_id(),
            copies,
        })
    }

    /// Keeps what this device sent (it has no copy for itself), for its history, with when it
    /// disappears: bound to `sealed`, what this device sealed, not to the server's echo of it.
    pub fn remember(
        &self,
        message: &Message,
        sealed: &Sealed,
        opened: &Opened,
        expires_at: Option<TimestampMs>,
    ) -> Result<(), SecretError> {
        let conn = self.vault.conn();
        let mut binding = Binding::of(message, sealed, &self.device_id());
        binding.sender = self.me().username;
        self.store_opened(conn, message.id, &binding, opened)?;
        self.note_expiry(conn, message.id, expires_at)
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

    fn note_expiry(
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

    fn expiry_of(&self, id: MessageId) -> Result<Option<TimestampMs>, SecretError> {
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

    /// What `message` says to this device. A message opened before is read from the vault,
    /// if it is the same message (conversation, sender, device, ciphertext); an id reused for
    /// another, or a ciphertext seen before under another id (a replay), is shown as such,
    /// never decrypted again. `None`: the message is not sealed.
    /// `UnknownDevice`: fetch and check the sender's devices, then ask again.
    pub fn read(&mut self, message: &Message) -> Result<Option<Read>, SecretError> {
        let Some(sealed) = message.sealed.as_deref() else {
            return Ok(None);
        };
        let binding = Binding::of(message, sealed, &self.device_id());
        match self.lookup(message.id, &binding)? {
            Stored::Same(opened) => {
                return Ok(Some(Read {
                    opened,
                    fresh: false,
                    expires_at: self.expiry_of(message.id)?,
                }));
            }
            Stored::Other => return Ok(Some(not_kept(reused_id(message.id)))),
            Stored::Nothing => {}
        }
        if sealed.sender_device == self.device_id() {
            return self.keep(
                message,
                &binding,
                None,
                Opened::Unreadable(
                    "sent from this device, which kept no copy (its store was reset)".into(),
                ),
            );
        }
        let Some(copy) = sealed.copy_for(&self.device_id()) else {
            return self.keep(
                message,
                &binding,
                None,
                Opened::Unreadable(
                    "not sealed for this device: it was sent before this device was set up".into(),
                ),
            );
        };
        if let Some(first) = self.seen(&binding.digest)? {
            return Ok(Some(not_kept(Opened::Unreadable(format!(
                "a replay of message {}: the server sent the same ciphertext again; not shown",
                first.0
            )))));
        }
        match self.owner_of(&sealed.sender_device)? {
            Some(owner) if owner == message.sender.username => {}
            _ => {
                return Err(SecretError::UnknownDevice {
                    username: message.sender.username.clone(),
                    device: sealed.sender_device.clone(),
                });
            }
        }
        let Ok(bytes) = BASE64.decode(&copy.body) else {
            return self.keep(
                message,
                &binding,
                Some(&binding.digest),
                Opened::Unreadable("the ciphertext is not base64: damaged on the way".into()),
            );
        };
        match OlmMessage::from_parts(copy.message_type.into(), &bytes) {
            Ok(olm) => self.decrypt(message, &binding, &olm),
            Err(e) => self.keep(
                message,
                &binding,
                Some(&binding.digest),
                Opened::Unreadable(format!("the ciphertext is damaged: {e}")),
            ),
        }
    }

    fn decrypt(
        &mut self,
        message: &Message,
        binding: &Binding,
        olm: &OlmMessage,
    ) -> Result<Option<Read>, SecretError> {
        let sender_device = binding.sender_device.as_str();
        let mut reason = "no session with the sending device can read it".to_owned();
        for mut session in self.sessions_with(sender_device)? {
            match session.decrypt(olm) {
                Ok(plaintext) => {
                    return self.opened_with(message, binding, &session, &plaintext, false);
                }
                Err(e) => reason = e.to_string(),
            }
        }
        if let OlmMessage::PreKey(first) = olm {
            let sender =
                vodozemac::Curve25519PublicKey::from_base64(sender_device).map_err(|e| {
                    KeyError::NotAKey {
                        username: message.sender.username.clone(),
                        what: "identity key",
                        reason: e.to_string(),
                    }
                })?;
            match self.device.accept(sender, first) {
                Ok((session, plaintext)) => {
                    return self.opened_with(message, binding, &session, &plaintext, true);
                }
                Err(e) => reason = e.to_string(),
            }
        }
        self.keep(
            message,
            binding,
            Some(&binding.digest),
            Opened::Unreadable(format!("cannot decrypt: {reason}")),
        )
    }

    /// Commits what a decryption produced: the text, the session (and the account, whose
    /// one-time key a first message used up), and the digest.
    fn opened_with(
        &mut self,
        message: &Message,
        binding: &Binding,
        session: &Session,
        plaintext: &[u8],
        account_changed: bool,
    ) -> Result<Option<Read>, SecretError> {
        let payload = serde_json::from_slice::<Plaintext>(plaintext);
        let expires_at = payload
            .as_ref()
            .ok()
            .and_then(|p| p.expires_at(message.sent_at));
        let opened = match payload {
            Ok(Plaintext {
                verify: Some(step), ..
            }) => Opened::Verify(step),
            Ok(Plaintext {
                timer: Some(seconds),
                ..
            }) => Opened::Timer(seconds),
            Ok(payload) => Opened::Text(payload.text),
            Err(_) => Opened::Unreadable("decrypted, but not a quid message".into()),
        };
        self.in_transaction(|endpoint, tx| {
            endpoint.save_session(tx, &binding.sender_device, session)?;
            if account_changed {
                endpoint.save_account(tx)?;
            }
            if let Opened::Timer(seconds) = opened {
                set_timer_in(tx, message.conversation_id, seconds)
                    .map_err(|e| endpoint.vault.sqlite(e))?;
            }
            endpoint.store_opened(tx, message.id, binding, &opened)?;
            endpoint.note_expiry(tx, message.id, expires_at)?;
            endpoint.mark_seen(tx, &binding.digest, message.id)
        })?;
        Ok(Some(Read {
            opened,
            fresh: true,
            expires_at,
        }))
    }

    /// Keeps a message that cannot be read, with why, so that it shows the same every time.
    fn keep(
        &mut self,
        message: &Message,
        binding: &Binding,
        digest: Option<&[u8]>,
        opened: Opened,
    ) -> Result<Option<Read>, SecretError> {
        self.in_transaction(|endpoint, tx| {
            endpoint.store_opened(tx, message.id, binding, &opened)?;
            match digest {
                Some(digest) => endpoint.mark_seen(tx, digest, message.id),
                None => Ok(()),
            }
        })?;
        Ok(Some(Read {
            opened,
            fresh: true,
            expires_at: None,
        }))
    }

    /// The message under which this device first opened the ciphertext `digest`, if any.
    fn seen(&self, digest: &[u8]) -> Result<Option<MessageId>, SecretError> {
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

    fn mark_seen(
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
    fn sessions_with(&self, device: &str) -> Result<Vec<Session>, SecretError> {
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

    fn latest_session(&self, device: &str) -> Result<Option<Session>, SecretError> {
        Ok(self.sessions_with(device)?.into_iter().next())
    }

    fn unseal_session(&self, id: &str, sealed: &[u8]) -> Result<Session, SecretError> {
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

    fn save_session(
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

    fn save_account(&self, conn: &rusqlite::Connection) -> Result<(), SecretError> {
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
    fn in_transaction(
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

fn set_timer_in(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ClientMsgId, TimestampMs, User, UserId};

    impl Endpoint {
        /// What `read` found, without whether it was the first time.
        fn read_text(&mut self, message: &Message) -> Result<Option<Opened>, SecretError> {
            Ok(self.read(message)?.map(|read| read.opened))
        }
    }

    fn endpoint(dir: &Path, username: &str) -> Endpoint {
        Endpoint::open(dir, username, &Unlock::KeyFile).unwrap()
    }

    /// What the server would hand out for `to`'s device: its keys and one one-time key.
    fn claim_from(to: &mut Endpoint) -> ClaimedKey {
        let published = to.keys_to_publish(1, false).unwrap();
        ClaimedKey {
            device: published.device,
            key: published.one_time_keys[0].clone(),
            fallback: false,
        }
    }

    fn message(id: i64, sender: &str, sealed: Sealed) -> Message {
        Message {
            id: MessageId(id),
            conversation_id: ConversationId(7),
            sender: User::new(UserId(1), sender),
            client_id: ClientMsgId::random(),
            text: String::new(),
            sent_at: TimestampMs(0),
            card: None,
            reply_to: None,
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            sealed: Some(Box::new(sealed)),
            expires_at: None,
            unreadable: None,
        }
    }

    /// Alice and bob with a session from alice to bob, each having pinned the other.
    fn pair(alice_dir: &Path, bob_dir: &Path) -> (Endpoint, Endpoint) {
        let mut alice = endpoint(alice_dir, "alice");
        let mut bob = endpoint(bob_dir, "bob");
        let claimed = claim_from(&mut bob);
        alice.check_devices("bob", &[bob.device_keys()]).unwrap();
        alice.start_sessions(&[claimed]).unwrap();
        bob.check_devices("alice", &[alice.device_keys()]).unwrap();
        (alice, bob)
    }

    #[test]
    fn messages_are_read_once_kept_and_a_replay_is_dropped() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut alice, mut bob) = pair(a.path(), b.path());
        let sealed = alice
            .seal("meet at noon", None, &[bob.device_keys()])
            .unwrap();
        let first = message(1, "alice", sealed.clone());
        assert_eq!(
            bob.read_text(&first).unwrap(),
            Some(Opened::Text("meet at noon".into()))
        );
        // Read again (the event replayed after a crash before its ack): from the vault, since
        // the one-time key it used is gone and decrypting again would fail.
        drop(bob);
        let mut bob = endpoint(b.path(), "bob");
        assert_eq!(
            bob.read_text(&first).unwrap(),
            Some(Opened::Text("meet at noon".into()))
        );
        let Some(Opened::Unreadable(why)) = bob.read_text(&message(2, "alice", sealed)).unwrap()
        else {
            panic!("a replay must be marked, not shown");
        };
        assert!(why.starts_with("a replay of message 1"), "{why}");

        let reply = bob.seal("see you", None, &[alice.device_keys()]).unwrap();
        alice.check_devices("bob", &[bob.device_keys()]).unwrap();
        assert_eq!(
            alice.read_text(&message(3, "bob", reply)).unwrap(),
            Some(Opened::Text("see you".into()))
        );
        let history = bob.history(ConversationId(7)).unwrap();
        assert_eq!(
            history,
            vec![(MessageId(1), Opened::Text("meet at noon".into()))]
        );
    }

    #[test]
    fn a_crash_before_the_commit_leaves_the_message_readable() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut alice, bob) = pair(a.path(), b.path());
        let first = message(
            1,
            "alice",
            alice.seal("one", None, &[bob.device_keys()]).unwrap(),
        );
        drop(bob);
        // The vault as it was before bob read the message: what a crash before the commit
        // leaves (the transaction is rolled back).
        let before = tempfile::tempdir().unwrap();
        for file in ["secret.db", "secret.key"] {
            std::fs::copy(b.path().join(file), before.path().join(file)).unwrap();
        }
        let mut bob = endpoint(b.path(), "bob");
        assert_eq!(
            bob.read_text(&first).unwrap(),
            Some(Opened::Text("one".into()))
        );
        let mut restarted = endpoint(before.path(), "bob");
        assert_eq!(
            restarted.read_text(&first).unwrap(),
            Some(Opened::Text("one".into()))
        );
    }

    #[test]
    fn what_cannot_be_read_says_why_and_an_unknown_sender_is_asked_for() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut alice, mut bob) = pair(a.path(), b.path());
        let mut sealed = alice.seal("secret", None, &[bob.device_keys()]).unwrap();
        // Alice's device, pinned as hers, in a message the server says carol sent.
        let unknown = bob
            .read_text(&message(1, "carol", sealed.clone()))
            .unwrap_err();
        assert!(
            matches!(unknown, SecretError::UnknownDevice { .. }),
            "{unknown}"
        );

        let mut tampered = sealed.clone();
        let body = &mut tampered.copies[0].body;
        body.replace_range(10..11, if &body[10..11] == "A" { "B" } else { "A" });
        let Some(Opened::Unreadable(why)) = bob.read_text(&message(2, "alice", tampered)).unwrap()
        else {
            panic!("a tampered ciphertext must not read");
        };
        assert!(why.starts_with("cannot decrypt"), "{why}");

        sealed.copies[0].device = "another device".into();
        let Some(Opened::Unreadable(why)) = bob.read_text(&message(3, "alice", sealed)).unwrap()
        else {
            panic!("a copy for another device must not read");
        };
        assert!(why.contains("not sealed for this device"), "{why}");
    }

    #[test]
    fn a_device_not_seen_before_is_refused_until_accepted() {
        let (a, b, b2) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let (alice, bob) = pair(a.path(), b.path());
        let other = endpoint(b2.path(), "bob");
        let devices = [bob.device_keys(), other.device_keys()];
        let error = alice
            .check_devices("bob", &devices)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("bob's identity keys changed: device "),
            "{error}"
        );
        assert!(
            error.contains(&fingerprint(&other.device_keys())),
            "{error}"
        );
        // The warning showed `other`; the server drops it again before the acceptance:
        // nothing is pinned, and the next listing of it warns anew.
        assert_eq!(alice.accept_devices("bob", &devices[..1]).unwrap(), []);
        let unwarned = alice.accept_devices("bob", &devices).unwrap_err();
        assert!(
            matches!(unwarned, SecretError::ListChanged { .. }),
            "{unwarned}"
        );
        // Now shown (in that refusal), it is what the next acceptance pins.
        assert_eq!(
            alice.accept_devices("bob", &devices).unwrap(),
            [other.device_keys()]
        );
        alice.check_devices("bob", &devices).unwrap();

        let mut forged = other.device_keys();
        forged.username = "carol".into();
        assert!(alice.check_devices("carol", &[forged]).is_err());
    }

    #[test]
    fn an_id_opened_before_is_shown_only_for_that_very_message() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut alice, mut bob) = pair(a.path(), b.path());
        let first = message(
            1,
            "alice",
            alice.seal("for bob", None, &[bob.device_keys()]).unwrap(),
        );
        bob.read(&first).unwrap();
        let mut elsewhere = first.clone();
        elsewhere.conversation_id = ConversationId(8);
        let mut from_carol = first.clone();
        from_carol.sender = User::new(UserId(3), "carol");
        let mut other_text = first.clone();
        other_text.sealed = Some(Box::new(
            alice
                .seal("something else", None, &[bob.device_keys()])
                .unwrap(),
        ));
        for (what, reused) in [
            ("conversation", elsewhere),
            ("sender", from_carol),
            ("ciphertext", other_text),
        ] {
            let Some(Opened::Unreadable(why)) = bob.read_text(&reused).unwrap() else {
                panic!("another {what} under id 1 was shown");
            };
            assert!(why.contains("sent message 1 again"), "{what}: {why}");
        }
        assert_eq!(
            bob.read_text(&first).unwrap(),
            Some(Opened::Text("for bob".into())),
            "the real one still reads"
        );
    }

    #[test]
    fn a_message_opened_before_messages_were_bound_is_bound_on_its_next_read() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut alice, mut bob) = pair(a.path(), b.path());
        let first = message(
            1,
            "alice",
            alice
                .seal("from before", None, &[bob.device_keys()])
                .unwrap(),
        );
        bob.read(&first).unwrap();
        // The row as the store kept it before: bound to its id only.
        let sealed = bob.vault.seal(
            "messages:1",
            &serde_json::to_vec(&Opened::Text("from before".into())).unwrap(),
        );
        bob.vault
            .conn()
            .execute(
                "UPDATE messages SET sender = NULL, sender_device = NULL, digest = NULL,
                 sealed = ?1 WHERE id = 1",
                [sealed],
            )
            .unwrap();
        let mut elsewhere = first.clone();
        elsewhere.conversation_id = ConversationId(8);
        assert!(matches!(
            bob.read_text(&elsewhere).unwrap(),
            Some(Opened::Unreadable(_))
        ));
        assert_eq!(
            bob.read_text(&first).unwrap(),
            Some(Opened::Text("from before".into()))
        );
        let bound: Option<String> = bob
            .vault
            .conn()
            .query_row("SELECT sender FROM messages WHERE id = 1", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(bound.as_deref(), Some("alice"));
    }

    #[test]
    fn a_disappearing_message_counts_from_the_time_sealed_not_the_servers() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut alice, mut bob) = pair(a.path(), b.path());
        let before = TimestampMs::now();
        let sealed = alice.seal("brief", Some(60), &[bob.device_keys()]).unwrap();
        // The server says it was sent a day later, to keep it around longer.
        let mut late = message(1, "alice", sealed);
        late.sent_at = TimestampMs(before.0 + 86_400_000);
        let read = bob.read(&late).unwrap().unwrap();
        let at = read.expires_at.unwrap();
        assert!(
            at.0 >= before.0 + 60_000 && at.0 <= TimestampMs::now().0 + 60_000,
            "{at:?} is not 60 s after sealing"
        );
    }

    #[test]
    fn a_timer_announced_is_kept_and_its_messages_are_forgotten_on_time() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut alice, mut bob) = pair(a.path(), b.path());
        let announce = alice.seal_timer(60, &[bob.device_keys()]).unwrap();
        assert_eq!(
            bob.read_text(&message(1, "alice", announce)).unwrap(),
            Some(Opened::Timer(60))
        );
        assert_eq!(bob.timer(ConversationId(7)).unwrap(), Some(60));

        let sealed = alice
            .seal("gone in a minute", Some(60), &[bob.device_keys()])
            .unwrap();
        let read = bob.read(&message(2, "alice", sealed)).unwrap().unwrap();
        assert_eq!(read.opened, Opened::Text("gone in a minute".into()));
        // It goes 60 s after the time sealed inside it, exactly then.
        let at = read.expires_at.unwrap();
        bob.forget_expired(TimestampMs(at.0 - 1)).unwrap();
        assert_eq!(bob.history(ConversationId(7)).unwrap().len(), 2);
        bob.forget_expired(at).unwrap();
        let left: Vec<MessageId> = bob
            .history(ConversationId(7))
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(left, vec![MessageId(1)], "the text is gone from the store");
    }

    #[test]
    fn a_forgotten_message_leaves_no_copy_in_the_store_file_or_its_log() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut alice, mut bob) = pair(a.path(), b.path());
        let sealed = alice
            .seal("gone in a minute", Some(60), &[bob.device_keys()])
            .unwrap();
        let at = bob
            .read(&message(1, "alice", sealed))
            .unwrap()
            .unwrap()
            .expires_at
            .unwrap();
        let kept: Vec<u8> = bob
            .vault
            .conn()
            .query_row("SELECT sealed FROM messages WHERE id = 1", [], |row| {
                row.get(0)
            })
            .unwrap();
        let files = || {
            ["secret.db", "secret.db-wal"]
                .map(|f| std::fs::read(b.path().join(f)).unwrap_or_default())
        };
        let holds = |bytes: &[u8]| bytes.windows(kept.len()).any(|w| w == kept.as_slice());
        assert!(
            files().iter().any(|f| holds(f)),
            "the test must see the row first"
        );
        bob.forget_expired(at).unwrap();
        for (name, bytes) in ["secret.db", "secret.db-wal"].iter().zip(files()) {
            assert!(!holds(&bytes), "{name} still holds the forgotten message");
        }
    }
}
