//! The key directory of secret conversations: devices (each user's, by their identity key),
//! their signed one-time keys, each handed out to one claimer only, and a fallback key for
//! when none is left. Every signature is checked before a key is stored (the forms and checks
//! are `protocol::secret`'s); claimers check them again.

use super::writer::WriteCtx;
use crate::protocol::secret::{
    ClaimedKey, DeviceKeys, KeyKind, MAX_DEVICES_PER_USER, MAX_KEYS_PER_PUBLISH, MAX_ONE_TIME_KEYS,
    MAX_SEALED_COPIES, ONE_TIME_KEYS_LOW, SignedKey, verify_device,
};
use crate::protocol::{ApiError, ErrorCode, Event, TimestampMs, User, UserId};

/// A registered device and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDevice {
    pub owner: UserId,
    pub keys: DeviceKeys,
}

/// What a claim found: a key for each device that had one, and the devices that had none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    pub keys: Vec<ClaimedKey>,
    pub unavailable: Vec<String>,
}

/// Registers `keys` as one of `me`'s devices (if new) and stores its signed one-time keys
/// and fallback key. Publishing the same keys again changes nothing, so a client may retry.
/// Returns how many one-time keys the device now holds on the server.
pub fn publish(
    ctx: &mut WriteCtx,
    me: &User,
    keys: &DeviceKeys,
    one_time_keys: &[SignedKey],
    fallback_key: Option<&SignedKey>,
) -> Result<u32, ApiError> {
    if keys.username != me.username {
        return Err(ApiError::invalid(format!(
            "device.username is {:?}: you can publish only your own devices ({})",
            keys.username, me.username
        )));
    }
    let device = verify_device(keys)?;
    if one_time_keys.len() > MAX_KEYS_PER_PUBLISH {
        return Err(ApiError::invalid(format!(
            "one_time_keys: {} keys; one publish_keys carries at most {MAX_KEYS_PER_PUBLISH}",
            one_time_keys.len()
        )));
    }
    for key in one_time_keys {
        device.verify_key(KeyKind::OneTime, key)?;
    }
    if let Some(key) = fallback_key {
        device.verify_key(KeyKind::Fallback, key)?;
    }
    register(ctx, me, keys)?;
    let id = keys.id();
    let new: Vec<&SignedKey> = unpublished(ctx, id, one_time_keys)?;
    let held = ctx.db().one_time_key_count(id)?;
    if held as usize + new.len() > MAX_ONE_TIME_KEYS {
        return Err(ApiError::invalid(format!(
            "device {id} holds {held} one-time keys; {} more would pass the limit of \
             {MAX_ONE_TIME_KEYS}",
            new.len()
        )));
    }
    for key in &new {
        ctx.db().insert_one_time_key(id, key)?;
    }
    if let Some(key) = fallback_key {
        ctx.db().set_fallback_key(id, key)?;
    }
    Ok(held + new.len() as u32)
}

/// Stores the device if it is new; refuses one registered to someone else or with another
/// signing key, and a device past `MAX_DEVICES_PER_USER`.
fn register(ctx: &mut WriteCtx, me: &User, keys: &DeviceKeys) -> Result<(), ApiError> {
    match ctx.db().device(keys.id())? {
        Some(known) if known.owner != me.id => Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("device {} is another user's", keys.id()),
        )),
        Some(known) if known.keys.ed25519 != keys.ed25519 => Err(ApiError::invalid(format!(
            "device {} is registered with another signing key; a device keeps its keys",
            keys.id()
        ))),
        Some(_) => Ok(()),
        None => {
            let count = ctx.db().devices_of(me.id)?.len();
            if count >= MAX_DEVICES_PER_USER {
                return Err(ApiError::invalid(format!(
                    "you have {count} devices, the most one user may have"
                )));
            }
            ctx.db().insert_device(me.id, keys, ctx.now())
        }
    }
}

/// The keys of `keys` the server does not hold yet. One it holds under the same id must be
/// the same key: a different one is refused.
fn unpublished<'k>(
    ctx: &mut WriteCtx,
    device: &str,
    keys: &'k [SignedKey],
) -> Result<Vec<&'k SignedKey>, ApiError> {
    let mut new = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        if keys[..index].iter().any(|k| k.key_id == key.key_id) {
            return Err(ApiError::invalid(format!(
                "one_time_keys[{index}]: key id {} appears twice",
                key.key_id
            )));
        }
        match ctx.db().one_time_key(device, &key.key_id)? {
            None => new.push(key),
            Some(held) if held == *key => {}
            Some(_) => {
                return Err(ApiError::invalid(format!(
                    "one_time_keys[{index}]: key id {} was published with another key",
                    key.key_id
                )));
            }
        }
    }
    Ok(new)
}

/// Takes one key for each of `devices`: a one-time key, which no other claim will get, or
/// the device's fallback key when none is left. An owner left with few one-time keys is told
/// (`keys_low`), so that a device of theirs online publishes more.
pub fn claim(ctx: &mut WriteCtx, devices: &[String]) -> Result<Claimed, ApiError> {
    if devices.is_empty() || devices.len() > MAX_SEALED_COPIES {
        return Err(ApiError::invalid(format!(
            "devices: {} devices; a claim names 1 to {MAX_SEALED_COPIES}",
            devices.len()
        )));
    }
    let mut claimed = Claimed::default();
    let mut low = Vec::new();
    for (index, id) in devices.iter().enumerate() {
        if devices[..index].contains(id) {
            return Err(ApiError::invalid(format!(
                "devices[{index}]: device {id} is named twice"
            )));
        }
        let Some(device) = ctx.db().device(id)? else {
            claimed.unavailable.push(id.clone());
            continue;
        };
        if let Some(key) = ctx.db().take_one_time_key(id)? {
            let left = ctx.db().one_time_key_count(id)?;
            if left < ONE_TIME_KEYS_LOW {
                low.push((device.owner, id.clone(), left));
            }
            claimed.keys.push(ClaimedKey {
                device: device.keys,
                key,
                fallback: false,
            });
        } else if let Some(key) = ctx.db().fallback_key(id)? {
            low.push((device.owner, id.clone(), 0));
            claimed.keys.push(ClaimedKey {
                device: device.keys,
                key,
                fallback: true,
            });
        } else {
            claimed.unavailable.push(id.clone());
        }
    }
    // In user id order, as every append to several streams goes (PostgreSQL deadlocks).
    low.sort();
    for (owner, device, one_time_keys) in low {
        ctx.emit(
            owner,
            &Event::KeysLow {
                device,
                one_time_keys,
            },
        )?;
    }
    Ok(claimed)
}

/// The key directory's tables.
pub trait Devices {
    /// The device whose identity key is `id`.
    fn device(&self, id: &str) -> Result<Option<StoredDevice>, ApiError>;

    /// `user`'s devices, oldest first.
    fn devices_of(&self, user: UserId) -> Result<Vec<DeviceKeys>, ApiError>;

    fn insert_device(
        &self,
        owner: UserId,
        keys: &DeviceKeys,
        at: TimestampMs,
    ) -> Result<(), ApiError>;

    /// The one-time key of `device` with this id, while unclaimed.
    fn one_time_key(&self, device: &str, key_id: &str) -> Result<Option<SignedKey>, ApiError>;

    fn insert_one_time_key(&self, device: &str, key: &SignedKey) -> Result<(), ApiError>;

    /// Unclaimed one-time keys of `device`.
    fn one_time_key_count(&self, device: &str) -> Result<u32, ApiError>;

    /// Removes and returns one one-time key of `device`; no two callers get the same one.
    fn take_one_time_key(&self, device: &str) -> Result<Option<SignedKey>, ApiError>;

    /// Replaces `device`'s fallback key.
    fn set_fallback_key(&self, device: &str, key: &SignedKey) -> Result<(), ApiError>;

    fn fallback_key(&self, device: &str) -> Result<Option<SignedKey>, ApiError>;
}

/// The columns `device_from_row` reads, from `devices d JOIN users u`.
pub(super) const DEVICE_COLUMNS: &str = "d.user_id, u.username, d.id, d.ed25519, d.signature";

pub(super) fn stored_device(
    owner: i64,
    username: String,
    id: String,
    ed25519: String,
    signature: String,
) -> StoredDevice {
    StoredDevice {
        owner: UserId(owner),
        keys: DeviceKeys {
            username,
            curve25519: id,
            ed25519,
            signature,
        },
    }
}
