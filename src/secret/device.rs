//! One device: its Olm account, the bundle it publishes, and sessions with other devices.

use serde::{Deserialize, Serialize};
use vodozemac::olm::{Account, OlmMessage, PreKeyMessage, Session, SessionConfig};
use vodozemac::{Curve25519PublicKey, Ed25519PublicKey, Ed25519Signature};

/// What a device publishes: whose it is, its identity keys, and one-time keys its identity
/// signed (base64, as vodozemac writes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBundle {
    pub username: String,
    pub curve25519: String,
    pub ed25519: String,
    pub one_time_keys: Vec<SignedKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedKey {
    pub key_id: String,
    pub key: String,
    pub signature: String,
}

/// Why a bundle from the server is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("{username}'s {what} is not a key: {reason}")]
    NotAKey {
        username: String,
        what: &'static str,
        reason: String,
    },
    #[error(
        "{username}'s one-time key {key_id} is not signed by {username}'s identity: refused (forged or damaged)"
    )]
    ForgedSignature { username: String, key_id: String },
}

/// A bundle whose keys all parse and whose every one-time key its owner signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    pub username: String,
    pub curve25519: Curve25519PublicKey,
    pub ed25519: Ed25519PublicKey,
    pub one_time_keys: Vec<Curve25519PublicKey>,
}

/// What a one-time key's signature covers: its owner too, so that a key cannot be moved into
/// another user's bundle and still pass.
fn signed_text(username: &str, key_id: &str, key: &str) -> String {
    format!("quid one-time key\n{username}\n{key_id}\n{key}")
}

/// Checks every key and signature of `bundle`; any failure refuses the whole bundle.
pub fn verify(bundle: &KeyBundle) -> Result<VerifiedBundle, BundleError> {
    let username = bundle.username.clone();
    let not_a_key = |what, reason: String| BundleError::NotAKey {
        username: username.clone(),
        what,
        reason,
    };
    let curve25519 = Curve25519PublicKey::from_base64(&bundle.curve25519)
        .map_err(|e| not_a_key("identity key", e.to_string()))?;
    let ed25519 = Ed25519PublicKey::from_base64(&bundle.ed25519)
        .map_err(|e| not_a_key("signing key", e.to_string()))?;
    let mut one_time_keys = Vec::new();
    for signed in &bundle.one_time_keys {
        let forged = || BundleError::ForgedSignature {
            username: username.clone(),
            key_id: signed.key_id.clone(),
        };
        let signature = Ed25519Signature::from_base64(&signed.signature).map_err(|_| forged())?;
        let text = signed_text(&bundle.username, &signed.key_id, &signed.key);
        ed25519
            .verify(text.as_bytes(), &signature)
            .map_err(|_| forged())?;
        one_time_keys.push(
            Curve25519PublicKey::from_base64(&signed.key)
                .map_err(|e| not_a_key("one-time key", e.to_string()))?,
        );
    }
    Ok(VerifiedBundle {
        username,
        curve25519,
        ed25519,
        one_time_keys,
    })
}

/// This profile's device: an Olm account that never leaves the client.
pub struct Device {
    username: String,
    account: Account,
}

impl Device {
    pub fn new(username: &str) -> Device {
        Device {
            username: username.to_owned(),
            account: Account::new(),
        }
    }

    /// Makes `count` fresh one-time keys and the bundle that publishes them, signed.
    pub fn publish(&mut self, count: usize) -> KeyBundle {
        self.account.generate_one_time_keys(count);
        let identity = self.account.identity_keys();
        let mut one_time_keys: Vec<SignedKey> = self
            .account
            .one_time_keys()
            .into_iter()
            .map(|(id, key)| {
                let (key_id, key) = (id.to_base64(), key.to_base64());
                let signature = self
                    .account
                    .sign(signed_text(&self.username, &key_id, &key))
                    .to_base64();
                SignedKey {
                    key_id,
                    key,
                    signature,
                }
            })
            .collect();
        one_time_keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        self.account.mark_keys_as_published();
        KeyBundle {
            username: self.username.clone(),
            curve25519: identity.curve25519.to_base64(),
            ed25519: identity.ed25519.to_base64(),
            one_time_keys,
        }
    }

    /// Starts a session with a device whose bundle was verified, on one of its one-time keys.
    pub fn start_session(
        &self,
        with: &VerifiedBundle,
        one_time_key: Curve25519PublicKey,
    ) -> Result<Session, vodozemac::olm::SessionCreationError> {
        self.account.create_outbound_session(
            SessionConfig::version_1(),
            with.curve25519,
            one_time_key,
        )
    }

    /// Accepts the first message of a session `from` started, and reads it.
    pub fn accept(
        &mut self,
        from: &VerifiedBundle,
        message: &PreKeyMessage,
    ) -> Result<(Session, Vec<u8>), vodozemac::olm::SessionCreationError> {
        let created = self.account.create_inbound_session(
            SessionConfig::version_1(),
            from.curve25519,
            message,
        )?;
        Ok((created.session, created.plaintext))
    }
}

/// The pre-key message a first `OlmMessage` must be, or `None`.
pub fn as_pre_key(message: &OlmMessage) -> Option<&PreKeyMessage> {
    match message {
        OlmMessage::PreKey(first) => Some(first),
        OlmMessage::Normal(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_bundle_verifies_and_a_tampered_one_does_not() {
        let mut bob = Device::new("bob");
        let bundle = bob.publish(3);
        let verified = verify(&bundle).unwrap();
        assert_eq!(verified.one_time_keys.len(), 3);

        let mut swapped = bundle.clone();
        swapped.one_time_keys[0].key = bundle.one_time_keys[1].key.clone();
        assert!(matches!(
            verify(&swapped),
            Err(BundleError::ForgedSignature { .. })
        ));
        // Bob's signed keys moved into carol's bundle do not pass as carol's.
        let mut moved = bundle.clone();
        moved.username = "carol".into();
        let error = verify(&moved).unwrap_err().to_string();
        assert!(error.contains("not signed by carol's identity"), "{error}");
        let mut garbled = bundle;
        garbled.curve25519 = "not base64!".into();
        let error = verify(&garbled).unwrap_err().to_string();
        assert!(
            error.starts_with("bob's identity key is not a key"),
            "{error}"
        );
    }

    #[test]
    fn two_devices_talk_and_a_tampered_message_is_refused() {
        let mut alice = Device::new("alice");
        let mut bob = Device::new("bob");
        let bobs = verify(&bob.publish(1)).unwrap();
        let alices = verify(&alice.publish(1)).unwrap();
        let mut outbound = alice.start_session(&bobs, bobs.one_time_keys[0]).unwrap();
        let first = outbound.encrypt("meet at noon").unwrap();
        let (mut inbound, plaintext) = bob.accept(&alices, as_pre_key(&first).unwrap()).unwrap();
        assert_eq!(plaintext, b"meet at noon");

        let reply = inbound.encrypt("see you").unwrap();
        assert_eq!(outbound.decrypt(&reply).unwrap(), b"see you");

        let (kind, mut bytes) = outbound.encrypt("again").unwrap().to_parts();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = OlmMessage::from_parts(kind, &bytes).unwrap();
        assert!(
            inbound.decrypt(&tampered).is_err(),
            "a flipped bit is refused"
        );
        // The one-time key is used up: the same first message cannot start a second session.
        assert!(bob.accept(&alices, as_pre_key(&first).unwrap()).is_err());
    }
}
