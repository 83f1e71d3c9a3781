//! Opening what arrives in a secret conversation. A message opened before is read from the
//! vault, never decrypted again; opening one commits its text, the advanced session and the
//! ciphertext's digest in one transaction, so that a crash loses no message key and nothing
//! is decrypted twice; a ciphertext seen before is dropped before decryption.

use super::SecretError;
use super::endpoint::{Endpoint, Plaintext};
use super::message::{Binding, Opened, Stored, reused_id};
use crate::protocol::secret::KeyError;
use crate::protocol::{Message, TimestampMs};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use vodozemac::olm::{OlmMessage, Session};

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

impl Endpoint {
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
                super::store::set_timer_in(tx, message.conversation_id, seconds)
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
}
