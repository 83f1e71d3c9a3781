//! `Devices` on PostgreSQL: the same contract as SQLite's. Several writers run at once here,
//! so a one-time key is taken with `FOR UPDATE SKIP LOCKED`: two claims never get one key.

use super::PgTx;
use crate::protocol::secret::{DeviceKeys, SignedKey};
use crate::protocol::{ApiError, TimestampMs, UserId};
use crate::store::devices::{DEVICE_COLUMNS, Devices, StoredDevice, stored_device};

fn device_from_row(row: &postgres::Row) -> StoredDevice {
    stored_device(row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))
}

fn signed_key_from_row(row: &postgres::Row) -> SignedKey {
    SignedKey {
        key_id: row.get(0),
        key: row.get(1),
        signature: row.get(2),
    }
}

impl Devices for PgTx<'_> {
    fn device(&self, id: &str) -> Result<Option<StoredDevice>, ApiError> {
        let row = self.tx().query_opt(
            &format!(
                "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE d.id = $1"
            ),
            &[&id],
        )?;
        Ok(row.as_ref().map(device_from_row))
    }

    fn devices_of(&self, user: UserId) -> Result<Vec<DeviceKeys>, ApiError> {
        let rows = self.tx().query(
            &format!(
                "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE d.user_id = $1 ORDER BY d.created_at_ms, d.id"
            ),
            &[&user.0],
        )?;
        Ok(rows.iter().map(|row| device_from_row(row).keys).collect())
    }

    fn insert_device(
        &self,
        owner: UserId,
        keys: &DeviceKeys,
        at: TimestampMs,
    ) -> Result<(), ApiError> {
        self.tx().execute(
            "INSERT INTO devices (id, user_id, ed25519, signature, created_at_ms)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &keys.curve25519,
                &owner.0,
                &keys.ed25519,
                &keys.signature,
                &at.0,
            ],
        )?;
        Ok(())
    }

    fn one_time_key(&self, device: &str, key_id: &str) -> Result<Option<SignedKey>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT key_id, key, signature FROM one_time_keys WHERE device_id = $1 AND key_id = $2",
            &[&device, &key_id],
        )?;
        Ok(row.as_ref().map(signed_key_from_row))
    }

    fn insert_one_time_key(&self, device: &str, key: &SignedKey) -> Result<(), ApiError> {
        self.tx().execute(
            "INSERT INTO one_time_keys (device_id, key_id, key, signature) VALUES ($1, $2, $3, $4)",
            &[&device, &key.key_id, &key.key, &key.signature],
        )?;
        Ok(())
    }

    fn one_time_key_count(&self, device: &str) -> Result<u32, ApiError> {
        let row = self.tx().query_one(
            "SELECT COUNT(*) FROM one_time_keys WHERE device_id = $1",
            &[&device],
        )?;
        let count: i64 = row.get(0);
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    fn take_one_time_key(&self, device: &str) -> Result<Option<SignedKey>, ApiError> {
        let row = self.tx().query_opt(
            "DELETE FROM one_time_keys WHERE (device_id, key_id) = (
                 SELECT device_id, key_id FROM one_time_keys WHERE device_id = $1
                 ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING key_id, key, signature",
            &[&device],
        )?;
        Ok(row.as_ref().map(signed_key_from_row))
    }

    fn set_fallback_key(&self, device: &str, key: &SignedKey) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE devices SET fallback_key_id = $2, fallback_key = $3, fallback_signature = $4
             WHERE id = $1",
            &[&device, &key.key_id, &key.key, &key.signature],
        )?;
        Ok(())
    }

    fn fallback_key(&self, device: &str) -> Result<Option<SignedKey>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT fallback_key_id, fallback_key, fallback_signature FROM devices
             WHERE id = $1 AND fallback_key IS NOT NULL",
            &[&device],
        )?;
        Ok(row.as_ref().map(signed_key_from_row))
    }
}
