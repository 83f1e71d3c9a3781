//! One end of secret conversations: this profile's device, its sessions with other devices,
//! the identity keys it pinned, and the messages it opened, all kept in the vault. No I/O but
//! the vault's file: the caller asks the server for keys and devices and hands them in.
//!
//! This file starts sessions and seals; `reading` opens what arrives; `store` is the SQL
//! beneath both.

use super::SecretError;
use super::device::Device;
use super::message::{Binding, Opened};
use super::vault::{Unlock, Vault, VaultError};
use super::verify::{Party, Step};
use crate::protocol::requests::PublishKeys;
use crate::protocol::secret::{ClaimedKey, DeviceKeys, KeyKind, Sealed, SealedCopy, verify_device};
use crate::protocol::{Message, TimestampMs};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What travels inside an Olm message: the text, or a verification step.
#[derive(Serialize, Deserialize)]
pub(super) struct Plaintext {
    pub(super) text: String,
    /// When the sender sealed it (ms since the epoch, the sender's clock): a disappearing
    /// message counts from here, not from when the server says it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) sealed_at: Option<TimestampMs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) verify: Option<Step>,
    /// This message disappears this long after it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) expires_in_secs: Option<u32>,
    /// Announces the conversation's timer (0: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) timer: Option<u32>,
}

impl Plaintext {
    pub(super) fn new(text: String) -> Plaintext {
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
    pub(super) fn expires_at(&self, server_sent_at: TimestampMs) -> Option<TimestampMs> {
        let from = self.sealed_at.unwrap_or(server_sent_at);
        self.expires_in_secs
            .map(|secs| TimestampMs(from.0 + i64::from(secs) * 1000))
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
        let device = match Self::stored_account(&vault)? {
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
                Self::note_username(&vault, username)?;
                Device::new(username)
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
}

#[cfg(test)]
mod tests;
