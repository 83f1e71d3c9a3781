//! One device: its Olm account, the bundle it publishes, and sessions with other devices.

use crate::protocol::secret::{
    DeviceKeys, KeyKind, SignedKey, VerifiedDevice, device_signed_text, key_signed_text,
};
use sha2::{Digest, Sha256};
use vodozemac::Curve25519PublicKey;
use vodozemac::olm::{Account, OlmMessage, PreKeyMessage, Session, SessionConfig};

/// Bytes of SHA-256 a fingerprint shows: 128 bits, beyond any search for a matching key.
const FINGERPRINT_BYTES: usize = 16;

/// A device's fingerprint, to compare aloud or side by side: 128 bits of a digest of both its
/// identity keys, as 8 groups of 4 hex digits ("3f9a 07c2 …").
pub fn fingerprint(device: &DeviceKeys) -> String {
    let mut hash = Sha256::new();
    hash.update(b"quid device fingerprint\0");
    hash.update(device.curve25519.as_bytes());
    hash.update([0]);
    hash.update(device.ed25519.as_bytes());
    let hex = hex::encode(&hash.finalize()[..FINGERPRINT_BYTES]);
    let groups: Vec<&str> = (0..hex.len())
        .step_by(4)
        .map(|at| &hex[at..at + 4])
        .collect();
    groups.join(" ")
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

    /// The account's secrets as JSON, for the vault to seal.
    pub fn pickle(&self) -> String {
        serde_json::to_string(&self.account.pickle()).unwrap_or_default()
    }

    /// The device `pickle` wrote.
    pub fn from_pickle(username: &str, pickle: &str) -> Result<Device, serde_json::Error> {
        let pickle: vodozemac::olm::AccountPickle = serde_json::from_str(pickle)?;
        Ok(Device {
            username: username.to_owned(),
            account: Account::from_pickle(pickle),
        })
    }

    /// This device's id: its Curve25519 identity key.
    pub fn id(&self) -> String {
        self.account.identity_keys().curve25519.to_base64()
    }

    /// This device's identity as it publishes it, signed.
    pub fn keys(&self) -> DeviceKeys {
        let identity = self.account.identity_keys();
        let (curve25519, ed25519) = (
            identity.curve25519.to_base64(),
            identity.ed25519.to_base64(),
        );
        let signature = self
            .account
            .sign(device_signed_text(&self.username, &curve25519, &ed25519))
            .to_base64();
        DeviceKeys {
            username: self.username.clone(),
            curve25519,
            ed25519,
            signature,
        }
    }

    /// Makes `count` fresh one-time keys and returns them signed, to publish.
    pub fn one_time_keys(&mut self, count: usize) -> Vec<SignedKey> {
        self.account.generate_one_time_keys(count);
        let mut keys: Vec<SignedKey> = self
            .account
            .one_time_keys()
            .into_iter()
            .map(|(id, key)| self.sign_key(KeyKind::OneTime, &id.to_base64(), &key))
            .collect();
        keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        self.account.mark_keys_as_published();
        keys
    }

    /// A new fallback key, signed: what a claim hands out once the one-time keys run out.
    pub fn fallback_key(&mut self) -> Option<SignedKey> {
        self.account.generate_fallback_key();
        let key = self
            .account
            .fallback_key()
            .into_iter()
            .map(|(id, key)| self.sign_key(KeyKind::Fallback, &id.to_base64(), &key))
            .next();
        self.account.mark_keys_as_published();
        key
    }

    fn sign_key(&self, kind: KeyKind, key_id: &str, key: &Curve25519PublicKey) -> SignedKey {
        let key = key.to_base64();
        let signature = self
            .account
            .sign(key_signed_text(kind, &self.username, key_id, &key))
            .to_base64();
        SignedKey {
            key_id: key_id.to_owned(),
            key,
            signature,
        }
    }

    /// Starts a session with a device whose bundle was verified, on one of its one-time keys.
    pub fn start_session(
        &self,
        with: &VerifiedDevice,
        one_time_key: Curve25519PublicKey,
    ) -> Result<Session, vodozemac::olm::SessionCreationError> {
        self.account.create_outbound_session(
            SessionConfig::version_1(),
            with.curve25519,
            one_time_key,
        )
    }

    /// Accepts the first message of a session the device whose identity key is `from`
    /// started, and reads it; a message from another identity is refused.
    pub fn accept(
        &mut self,
        from: Curve25519PublicKey,
        message: &PreKeyMessage,
    ) -> Result<(Session, Vec<u8>), vodozemac::olm::SessionCreationError> {
        let created =
            self.account
                .create_inbound_session(SessionConfig::version_1(), from, message)?;
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
    use crate::protocol::secret::verify_device;

    /// `device`'s identity and one of its one-time keys, checked as a client checks them.
    fn claim(device: &mut Device) -> (VerifiedDevice, Curve25519PublicKey) {
        let verified = verify_device(&device.keys()).unwrap();
        let key = device.one_time_keys(1).remove(0);
        let key = verified.verify_key(KeyKind::OneTime, &key).unwrap();
        (verified, key)
    }

    #[test]
    fn published_keys_verify_as_their_devices() {
        let mut bob = Device::new("bob");
        let keys = bob.one_time_keys(3);
        assert_eq!(keys.len(), 3);
        let verified = verify_device(&bob.keys()).unwrap();
        for key in &keys {
            verified.verify_key(KeyKind::OneTime, key).unwrap();
        }
        let fallback = bob.fallback_key().unwrap();
        verified.verify_key(KeyKind::Fallback, &fallback).unwrap();
        assert!(verified.verify_key(KeyKind::OneTime, &fallback).is_err());
    }

    #[test]
    fn two_devices_talk_and_a_tampered_message_is_refused() {
        let alice = Device::new("alice");
        let mut bob = Device::new("bob");
        let (bobs, bobs_key) = claim(&mut bob);
        let alices = verify_device(&alice.keys()).unwrap();
        let mut outbound = alice.start_session(&bobs, bobs_key).unwrap();
        let first = outbound.encrypt("meet at noon").unwrap();
        let (mut inbound, plaintext) = bob
            .accept(alices.curve25519, as_pre_key(&first).unwrap())
            .unwrap();
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
        assert!(
            bob.accept(alices.curve25519, as_pre_key(&first).unwrap())
                .is_err()
        );
    }

    #[test]
    fn a_first_message_from_another_identity_than_the_claimed_sender_is_refused() {
        let alice = Device::new("alice");
        let mallory = Device::new("alice");
        let mut bob = Device::new("bob");
        let (bobs, bobs_key) = claim(&mut bob);
        let first = mallory
            .start_session(&bobs, bobs_key)
            .unwrap()
            .encrypt("from alice, honest")
            .unwrap();
        let alices = verify_device(&alice.keys()).unwrap();
        assert!(
            bob.accept(alices.curve25519, as_pre_key(&first).unwrap())
                .is_err()
        );
    }
}
