//! Whose devices this endpoint trusts: identity keys pinned on first use per contact, the new
//! devices a warning showed, and accepting exactly those. The server lists devices; it never
//! decides which are pinned. A device whose signed owner is not the contact is refused
//! whichever way it comes.

use super::SecretError;
use super::endpoint::Endpoint;
use crate::protocol::secret::{DeviceKeys, KeyError, verify_device};
use std::collections::BTreeSet;

/// A device as pinned: its two identity keys.
type Pin = (String, String);

fn pin_of(device: &DeviceKeys) -> Pin {
    (device.curve25519.clone(), device.ed25519.clone())
}

impl Endpoint {
    /// Checks `username`'s devices as the server listed them: every signature, each signed
    /// as `username`'s, and the identity keys against those pinned on first use. The first
    /// time, they are pinned; after that, a device not seen before (or a changed key) is
    /// refused, and kept as shown, until accepted.
    pub fn check_devices(&self, username: &str, devices: &[DeviceKeys]) -> Result<(), SecretError> {
        check_owners(username, devices)?;
        let pinned = self.pins(username)?;
        if pinned.is_empty() {
            return self.pin(username, devices);
        }
        let unseen = self.unseen(devices, &pinned);
        if unseen.is_empty() {
            return Ok(());
        }
        self.note_shown(username, &unseen)?;
        Err(SecretError::KeysChanged {
            username: username.to_owned(),
            mine: username == self.me().username,
            devices: unseen,
        })
    }

    /// Pins the devices `username` has now, after the user accepted the new ones a warning
    /// showed. Refused, with the new list shown, when the server's list of new devices is not
    /// exactly what was shown (the user must look again). What accepting changed: the
    /// devices newly pinned (none when nothing was new).
    pub fn accept_devices(
        &self,
        username: &str,
        devices: &[DeviceKeys],
    ) -> Result<Vec<DeviceKeys>, SecretError> {
        check_owners(username, devices)?;
        let pinned = self.pins(username)?;
        let unseen = self.unseen(devices, &pinned);
        if unseen.is_empty() {
            // Nothing new listed now (a device shown before is gone again): nothing to pin.
            self.note_shown(username, &[])?;
            return Ok(Vec::new());
        }
        let shown = self.shown(username)?;
        let now: BTreeSet<Pin> = unseen.iter().map(pin_of).collect();
        if now != shown {
            self.note_shown(username, &unseen)?;
            return Err(SecretError::ListChanged {
                username: username.to_owned(),
                devices: unseen,
            });
        }
        let conn = self.vault.conn();
        // Accepting drops the old pins (and their verification): a device no longer listed
        // goes, and the person is verified again from here.
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.vault.sqlite(e))?;
        let replaced = conn
            .execute("DELETE FROM pins WHERE username = ?1", [username])
            .and_then(|_| conn.execute("DELETE FROM shown_devices WHERE username = ?1", [username]))
            .map_err(|e| self.vault.sqlite(e).into())
            .and_then(|_| self.pin(username, devices));
        match replaced {
            Ok(()) => conn
                .execute_batch("COMMIT")
                .map_err(|e| self.vault.sqlite(e))?,
            Err(error) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(error);
            }
        }
        Ok(unseen)
    }

    /// The devices among `devices` neither pinned nor this one.
    fn unseen(&self, devices: &[DeviceKeys], pinned: &[Pin]) -> Vec<DeviceKeys> {
        let me = self.device_id();
        devices
            .iter()
            .filter(|d| d.curve25519 != me && !pinned.contains(&pin_of(d)))
            .cloned()
            .collect()
    }

    /// Remembers the new devices a warning showed for `username` (the last warning counts).
    fn note_shown(&self, username: &str, devices: &[DeviceKeys]) -> Result<(), SecretError> {
        let conn = self.vault.conn();
        let noted = conn
            .execute("DELETE FROM shown_devices WHERE username = ?1", [username])
            .and_then(|_| {
                for device in devices {
                    conn.execute(
                        "INSERT OR REPLACE INTO shown_devices (username, device, ed25519)
                         VALUES (?1, ?2, ?3)",
                        [username, &device.curve25519, &device.ed25519],
                    )?;
                }
                Ok(())
            });
        noted.map_err(|e| self.vault.sqlite(e).into())
    }

    fn shown(&self, username: &str) -> Result<BTreeSet<Pin>, SecretError> {
        Ok(self
            .devices_in("shown_devices", username)?
            .into_iter()
            .collect())
    }

    fn pin(&self, username: &str, devices: &[DeviceKeys]) -> Result<(), SecretError> {
        for device in devices {
            self.vault
                .conn()
                .execute(
                    "INSERT OR REPLACE INTO pins (username, device, ed25519) VALUES (?1, ?2, ?3)",
                    [username, &device.curve25519, &device.ed25519],
                )
                .map_err(|e| self.vault.sqlite(e))?;
        }
        Ok(())
    }

    pub(super) fn pins(&self, username: &str) -> Result<Vec<Pin>, SecretError> {
        self.devices_in("pins", username)
    }

    /// `username`'s devices as `table` (`pins` or `shown_devices`, never user input) holds them.
    fn devices_in(&self, table: &str, username: &str) -> Result<Vec<Pin>, SecretError> {
        let conn = self.vault.conn();
        let mut statement = conn
            .prepare(&format!(
                "SELECT device, ed25519 FROM {table} WHERE username = ?1"
            ))
            .map_err(|e| self.vault.sqlite(e))?;
        let devices = statement
            .query_map([username], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.vault.sqlite(e))?;
        Ok(devices)
    }
}

/// Every device's signature holds, and each is signed as `username`'s: a server that lists
/// another user's device (validly signed, for them) as this contact's is refused by name.
fn check_owners(username: &str, devices: &[DeviceKeys]) -> Result<(), SecretError> {
    for device in devices {
        let verified = verify_device(device)?;
        if verified.username != username {
            return Err(KeyError::OtherOwner {
                listed_for: username.to_owned(),
                owner: verified.username,
                device: device.curve25519.clone(),
            }
            .into());
        }
    }
    Ok(())
}
