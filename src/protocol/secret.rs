//! Secret conversations on the wire: the keys a device publishes (its identity, signed
//! one-time keys and a fallback key), what a claim hands out, and sealed messages (one Olm
//! ciphertext per device). The server checks every signature when a key is published, to
//! refuse garbage early; clients check again everything it hands out, since the server is
//! exactly whom the signatures guard against. Nothing here holds a private key.

use super::ApiError;
use serde::{Deserialize, Serialize};
use vodozemac::{Curve25519PublicKey, Ed25519PublicKey, Ed25519Signature};

/// Devices one user may register.
pub const MAX_DEVICES_PER_USER: usize = 10;
/// One-time keys the server keeps for one device.
pub const MAX_ONE_TIME_KEYS: usize = 100;
/// One-time keys one `publish_keys` may carry.
pub const MAX_KEYS_PER_PUBLISH: usize = 50;
/// A claim that leaves a device with fewer one-time keys than this tells its owner to top up.
pub const ONE_TIME_KEYS_LOW: u32 = 10;
/// Devices one sealed message may carry a ciphertext for (two users' devices).
pub const MAX_SEALED_COPIES: usize = 2 * MAX_DEVICES_PER_USER;
/// Longest a disappearing message's timer may be: four weeks.
pub const MAX_TIMER_SECS: u32 = 28 * 24 * 60 * 60;

/// Refuses a timer of 0 or past `MAX_TIMER_SECS`.
pub fn validate_timer(secs: u32) -> Result<(), ApiError> {
    if secs == 0 || secs > MAX_TIMER_SECS {
        return Err(ApiError::invalid(format!(
            "expires_in_secs must be 1 to {MAX_TIMER_SECS} (four weeks), not {secs}"
        )));
    }
    Ok(())
}

/// A timer as people write it: a number and a unit, `30s` to `4w` (`10m`, `1h`, `1d`), or
/// `off` (0).
pub fn parse_timer(text: &str) -> Result<u32, String> {
    if text == "off" {
        return Ok(0);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => 0,
    };
    let secs = number
        .parse::<u32>()
        .ok()
        .filter(|_| unit_secs > 0)
        .and_then(|n| n.checked_mul(unit_secs));
    match secs {
        Some(secs) if validate_timer(secs).is_ok() => Ok(secs),
        _ => Err(format!(
            "{text:?}: write a number and a unit, 1s to 4w (like 10m, 1h, 1d), or off"
        )),
    }
}

/// Longest ciphertext for one device, in base64 characters.
pub const MAX_SEALED_BODY_CHARS: usize = 24 * 1024;

/// A device's identity on the wire: whose it is and its two public keys (base64, as
/// vodozemac writes them), bound together by a signature of its signing key. Its Curve25519
/// key is its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKeys {
    pub username: String,
    pub curve25519: String,
    pub ed25519: String,
    pub signature: String,
}

impl DeviceKeys {
    pub fn id(&self) -> &str {
        &self.curve25519
    }
}

/// A one-time or fallback key, signed by its device's signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedKey {
    pub key_id: String,
    pub key: String,
    pub signature: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    OneTime,
    Fallback,
}

impl KeyKind {
    fn name(self) -> &'static str {
        match self {
            KeyKind::OneTime => "one-time key",
            KeyKind::Fallback => "fallback key",
        }
    }
}

/// What a device's signature covers: its owner and both keys, so that neither key can be
/// swapped for another and no device can be moved to another user.
pub fn device_signed_text(username: &str, curve25519: &str, ed25519: &str) -> String {
    format!("quid device\n{username}\n{curve25519}\n{ed25519}")
}

/// What a key's signature covers: its kind and owner too, so that a key cannot be moved into
/// another user's keys, nor a fallback key pass for a one-time key.
pub fn key_signed_text(kind: KeyKind, username: &str, key_id: &str, key: &str) -> String {
    format!("quid {}\n{username}\n{key_id}\n{key}", kind.name())
}

/// Why keys are not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{username}'s {what} is not a key: {reason}")]
    NotAKey {
        username: String,
        what: &'static str,
        reason: String,
    },
    #[error(
        "{username}'s device {device} is not signed by its own signing key: refused (forged or damaged)"
    )]
    ForgedDevice { username: String, device: String },
    #[error(
        "a device listed as {listed_for}'s is signed as {owner}'s (device {device}): refused; \
         the server listed another user's device"
    )]
    OtherOwner {
        listed_for: String,
        owner: String,
        device: String,
    },
    #[error(
        "{username}'s {kind} {key_id} is not signed by that device: refused (forged or damaged)"
    )]
    ForgedKey {
        username: String,
        kind: &'static str,
        key_id: String,
    },
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> ApiError {
        ApiError::invalid(error.to_string())
    }
}

/// A device whose keys parse and whose signature holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDevice {
    pub username: String,
    pub curve25519: Curve25519PublicKey,
    pub ed25519: Ed25519PublicKey,
}

/// Checks a device's keys and its signature over them.
pub fn verify_device(keys: &DeviceKeys) -> Result<VerifiedDevice, KeyError> {
    let username = &keys.username;
    let curve25519 = parse_curve(username, "identity key", &keys.curve25519)?;
    let ed25519 = Ed25519PublicKey::from_base64(&keys.ed25519).map_err(|e| KeyError::NotAKey {
        username: username.clone(),
        what: "signing key",
        reason: e.to_string(),
    })?;
    let forged = || KeyError::ForgedDevice {
        username: username.clone(),
        device: keys.curve25519.clone(),
    };
    let signature = Ed25519Signature::from_base64(&keys.signature).map_err(|_| forged())?;
    let text = device_signed_text(username, &keys.curve25519, &keys.ed25519);
    ed25519
        .verify(text.as_bytes(), &signature)
        .map_err(|_| forged())?;
    Ok(VerifiedDevice {
        username: username.clone(),
        curve25519,
        ed25519,
    })
}

impl VerifiedDevice {
    /// Checks that this device signed `key` as a key of `kind`, and parses it.
    pub fn verify_key(
        &self,
        kind: KeyKind,
        key: &SignedKey,
    ) -> Result<Curve25519PublicKey, KeyError> {
        let forged = || KeyError::ForgedKey {
            username: self.username.clone(),
            kind: kind.name(),
            key_id: key.key_id.clone(),
        };
        let signature = Ed25519Signature::from_base64(&key.signature).map_err(|_| forged())?;
        let text = key_signed_text(kind, &self.username, &key.key_id, &key.key);
        self.ed25519
            .verify(text.as_bytes(), &signature)
            .map_err(|_| forged())?;
        parse_curve(&self.username, kind.name(), &key.key)
    }
}

fn parse_curve(
    username: &str,
    what: &'static str,
    key: &str,
) -> Result<Curve25519PublicKey, KeyError> {
    Curve25519PublicKey::from_base64(key).map_err(|e| KeyError::NotAKey {
        username: username.to_owned(),
        what,
        reason: e.to_string(),
    })
}

/// One key a claim took for a device, with the device it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedKey {
    pub device: DeviceKeys,
    pub key: SignedKey,
    /// The device's fallback key, handed out because it had no one-time key left.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fallback: bool,
}

/// A message's text sealed for each device that may read it: the recipient's and the
/// sender's other devices. The server sees who sent it, when, to which devices, and how long
/// each ciphertext is; never the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The sending device's id (its Curve25519 key): which session decrypts it.
    pub sender_device: String,
    pub copies: Vec<SealedCopy>,
}

/// One device's ciphertext of a sealed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCopy {
    pub device: String,
    /// Olm's message type: 0 starts a session (pre-key message), 1 continues one.
    pub message_type: u8,
    /// The ciphertext, base64.
    pub body: String,
}

impl Sealed {
    /// The copy sealed for `device`, if the sender sealed one for it.
    pub fn copy_for(&self, device: &str) -> Option<&SealedCopy> {
        self.copies.iter().find(|copy| copy.device == device)
    }

    /// What the server requires of a sealed message's form; who the devices belong to is
    /// checked against its key directory.
    pub fn validate_form(&self) -> Result<(), ApiError> {
        if self.copies.is_empty() || self.copies.len() > MAX_SEALED_COPIES {
            return Err(ApiError::invalid(format!(
                "sealed: {} copies; a sealed message carries 1 to {MAX_SEALED_COPIES}",
                self.copies.len()
            )));
        }
        for (index, copy) in self.copies.iter().enumerate() {
            copy.validate_form()
                .map_err(|why| ApiError::invalid(format!("sealed.copies[{index}]: {why}")))?;
            if self.copies[..index].iter().any(|c| c.device == copy.device) {
                return Err(ApiError::invalid(format!(
                    "sealed.copies[{index}]: a second copy for device {}",
                    copy.device
                )));
            }
        }
        Ok(())
    }
}

impl SealedCopy {
    fn validate_form(&self) -> Result<(), String> {
        if self.message_type > 1 {
            return Err(format!(
                "message_type {} is neither 0 (pre-key) nor 1 (normal)",
                self.message_type
            ));
        }
        let chars = self.body.chars().count();
        if chars == 0 || chars > MAX_SEALED_BODY_CHARS {
            return Err(format!(
                "body is {chars} characters; a ciphertext is 1 to {MAX_SEALED_BODY_CHARS}"
            ));
        }
        if !self
            .body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            return Err("body is not base64".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vodozemac::olm::Account;

    fn signed_device(account: &Account, username: &str) -> DeviceKeys {
        let identity = account.identity_keys();
        let (curve25519, ed25519) = (
            identity.curve25519.to_base64(),
            identity.ed25519.to_base64(),
        );
        let signature = account
            .sign(device_signed_text(username, &curve25519, &ed25519))
            .to_base64();
        DeviceKeys {
            username: username.to_owned(),
            curve25519,
            ed25519,
            signature,
        }
    }

    fn signed_key(account: &Account, kind: KeyKind, username: &str, key: &str) -> SignedKey {
        let signature = account
            .sign(key_signed_text(kind, username, "AAAAAQ", key))
            .to_base64();
        SignedKey {
            key_id: "AAAAAQ".into(),
            key: key.to_owned(),
            signature,
        }
    }

    #[test]
    fn a_device_verifies_and_a_swapped_key_or_owner_does_not() {
        let bob = Account::new();
        let keys = signed_device(&bob, "bob");
        assert_eq!(verify_device(&keys).unwrap().username, "bob");

        let mallory = Account::new();
        let mut swapped = keys.clone();
        swapped.curve25519 = mallory.identity_keys().curve25519.to_base64();
        assert!(matches!(
            verify_device(&swapped),
            Err(KeyError::ForgedDevice { .. })
        ));
        let mut moved = keys.clone();
        moved.username = "carol".into();
        let error = verify_device(&moved).unwrap_err().to_string();
        assert!(error.starts_with("carol's device"), "{error}");
        let mut garbled = keys;
        garbled.ed25519 = "not base64!".into();
        let error = verify_device(&garbled).unwrap_err().to_string();
        assert!(
            error.starts_with("bob's signing key is not a key"),
            "{error}"
        );
    }

    #[test]
    fn a_key_verifies_only_as_the_kind_and_device_that_signed_it() {
        let bob = Account::new();
        let device = verify_device(&signed_device(&bob, "bob")).unwrap();
        let key = Account::new().identity_keys().curve25519.to_base64();
        let one_time = signed_key(&bob, KeyKind::OneTime, "bob", &key);
        assert!(device.verify_key(KeyKind::OneTime, &one_time).is_ok());
        let error = device
            .verify_key(KeyKind::Fallback, &one_time)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("fallback key AAAAAQ is not signed"),
            "{error}"
        );
        let other = verify_device(&signed_device(&Account::new(), "bob")).unwrap();
        assert!(other.verify_key(KeyKind::OneTime, &one_time).is_err());
    }

    #[test]
    fn a_sealed_message_needs_well_formed_distinct_copies() {
        let copy = |device: &str, body: &str| SealedCopy {
            device: device.into(),
            message_type: 1,
            body: body.into(),
        };
        let sealed = |copies| Sealed {
            sender_device: "d0".into(),
            copies,
        };
        assert!(
            sealed(vec![copy("d1", "AwoA+/=="), copy("d2", "Bw")])
                .validate_form()
                .is_ok()
        );
        for (copies, expected) in [
            (vec![], "0 copies"),
            (vec![copy("d1", "")], "copies[0]: body is 0 characters"),
            (vec![copy("d1", "a b")], "copies[0]: body is not base64"),
            (
                vec![copy("d1", "A"), copy("d1", "B")],
                "copies[1]: a second copy",
            ),
        ] {
            let error = sealed(copies).validate_form().unwrap_err().message;
            assert!(error.contains(expected), "{error}");
        }
        let mut odd = copy("d1", "A");
        odd.message_type = 2;
        let error = sealed(vec![odd]).validate_form().unwrap_err().message;
        assert!(error.contains("message_type 2"), "{error}");
    }
}
