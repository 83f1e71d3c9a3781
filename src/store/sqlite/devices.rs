//! `Devices` on SQLite: the same contract as PostgreSQL's.

use crate::protocol::secret::{DeviceKeys, SignedKey};
use crate::protocol::{ApiError, TimestampMs, UserId};
use crate::store::devices::{DEVICE_COLUMNS, StoredDevice, stored_device};
use crate::store::{Cached, Devices};
use rusqlite::{Connection, OptionalExtension};

impl Devices for Connection {
    fn device(&self, id: &str) -> Result<Option<StoredDevice>, ApiError> {
        Ok(self
            .query_row_cached(
                &format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id
                     WHERE d.id = ?1"
                ),
                [id],
                device_from_row,
            )
            .optional()?)
    }

    fn devices_of(&self, user: UserId) -> Result<Vec<DeviceKeys>, ApiError> {
        let mut statement = self.prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id
             WHERE d.user_id = ?1 ORDER BY d.created_at_ms, d.id"
        ))?;
        let devices = statement
            .query_map([user.0], device_from_row)?
            .map(|device| device.map(|d| d.keys))
            .collect::<Result<_, _>>()?;
        Ok(devices)
    }

    fn insert_device(
        &self,
        owner: UserId,
        keys: &DeviceKeys,
        at: TimestampMs,
    ) -> Result<(), ApiError> {
        self.execute_cached(
            "INSERT INTO devices (id, user_id, ed25519, signature, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![keys.curve25519, owner.0, keys.ed25519, keys.signature, at.0],
        )?;
        Ok(())
    }

    fn one_time_key(&self, device: &str, key_id: &str) -> Result<Option<SignedKey>, ApiError> {
        Ok(self
            .query_row_cached(
                "SELECT key_id, key, signature FROM one_time_keys
                 WHERE device_id = ?1 AND key_id = ?2",
                [device, key_id],
                signed_key_from_row,
            )
            .optional()?)
    }

    fn insert_one_time_key(&self, device: &str, key: &SignedKey) -> Result<(), ApiError> {
        self.execute_cached(
            "INSERT INTO one_time_keys (device_id, key_id, key, signature) VALUES (?1, ?2, ?3, ?4)",
            [device, &key.key_id, &key.key, &key.signature],
        )?;
        Ok(())
    }

    fn one_time_key_count(&self, device: &str) -> Result<u32, ApiError> {
        Ok(self.query_row_cached(
            "SELECT COUNT(*) FROM one_time_keys WHERE device_id = ?1",
            [device],
            |row| row.get(0),
        )?)
    }

    fn take_one_time_key(&self, device: &str) -> Result<Option<SignedKey>, ApiError> {
        // One writer holds the database, so reading then deleting is atomic here.
        let key = self
            .query_row_cached(
                "SELECT key_id, key, signature FROM one_time_keys WHERE device_id = ?1
                 ORDER BY key_id LIMIT 1",
                [device],
                signed_key_from_row,
            )
            .optional()?;
        if let Some(key) = &key {
            self.execute_cached(
                "DELETE FROM one_time_keys WHERE device_id = ?1 AND key_id = ?2",
                [device, &key.key_id],
            )?;
        }
        Ok(key)
    }

    fn set_fallback_key(&self, device: &str, key: &SignedKey) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE devices SET fallback_key_id = ?2, fallback_key = ?3, fallback_signature = ?4
             WHERE id = ?1",
            [device, &key.key_id, &key.key, &key.signature],
        )?;
        Ok(())
    }

    fn fallback_key(&self, device: &str) -> Result<Option<SignedKey>, ApiError> {
        Ok(self
            .query_row_cached(
                "SELECT fallback_key_id, fallback_key, fallback_signature FROM devices
                 WHERE id = ?1 AND fallback_key IS NOT NULL",
                [device],
                signed_key_from_row,
            )
            .optional()?)
    }
}

pub(crate) fn device_from_row(row: &rusqlite::Row) -> rusqlite::Result<StoredDevice> {
    Ok(stored_device(
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

pub(crate) fn signed_key_from_row(row: &rusqlite::Row) -> rusqlite::Result<SignedKey> {
    Ok(SignedKey {
        key_id: row.get(0)?,
        key: row.get(1)?,
        signature: row.get(2)?,
    })
}
