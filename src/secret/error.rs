//! What can go wrong in a secret conversation, said so that the user knows what to do.

use super::device::fingerprint;
use super::vault::VaultError;
use crate::protocol::secret::{DeviceKeys, KeyError};

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
