//! Secret conversations over a connection: what an endpoint (`secret::endpoint`) asks of the
//! server, in the order it must: publish this device and keep its one-time keys topped up;
//! before sealing, fetch and check the devices of both people and claim a key for each device
//! without a session; before reading, learn a sender device not pinned yet.

use super::connection::{Connection, RequestError};
use crate::protocol::requests;
use crate::protocol::secret::{DeviceKeys, ONE_TIME_KEYS_LOW};
use crate::protocol::{ClientMsgId, ConversationId, ErrorCode, Message, RequestBody, results};
use crate::secret::endpoint::{Endpoint, Opened, Read, SecretError};
use crate::secret::verify::Step;
use serde::de::DeserializeOwned;

/// One-time keys a device keeps on the server when it tops up.
pub const ONE_TIME_KEYS_TARGET: u32 = 50;

#[derive(Debug, thiserror::Error)]
pub enum SecretLinkError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Request(#[from] RequestError),
}

/// Times a request is sent again after the server said to wait (`rate_limited`).
const RATE_LIMITED_RETRIES: u32 = 5;

/// Sends `body`, waiting as long as the server asks when it is rate limited: sealing one
/// message takes a few requests, and a burst of messages should slow down, not fail.
async fn ask<T: DeserializeOwned>(
    connection: &Connection,
    body: RequestBody,
) -> Result<T, RequestError> {
    let mut retries = 0;
    loop {
        match connection.request(body.clone()).await {
            Err(RequestError::Api(error))
                if error.code == ErrorCode::RateLimited && retries < RATE_LIMITED_RETRIES =>
            {
                retries += 1;
                let wait = error.retry_after_ms.unwrap_or(100);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            other => return other,
        }
    }
}

/// Registers this device with the server (if new) and tops its one-time keys up to
/// `ONE_TIME_KEYS_TARGET` when fewer than `ONE_TIME_KEYS_LOW` are left; with none left, a new
/// fallback key too (the old one was probably handed out).
pub async fn publish(
    connection: &Connection,
    endpoint: &mut Endpoint,
) -> Result<u32, SecretLinkError> {
    let held = publish_keys(connection, endpoint.keys_to_publish(0, false)?).await?;
    if held >= ONE_TIME_KEYS_LOW {
        return Ok(held);
    }
    let count = (ONE_TIME_KEYS_TARGET - held) as usize;
    let keys = endpoint.keys_to_publish(count, held == 0)?;
    Ok(publish_keys(connection, keys).await?)
}

async fn publish_keys(
    connection: &Connection,
    keys: requests::PublishKeys,
) -> Result<u32, RequestError> {
    let published: results::KeysPublished = ask(connection, RequestBody::PublishKeys(keys)).await?;
    Ok(published.one_time_keys)
}

async fn devices_of(
    connection: &Connection,
    username: &str,
) -> Result<Vec<DeviceKeys>, RequestError> {
    let body = RequestBody::Devices(requests::Devices {
        username: username.to_owned(),
    });
    let found: results::Devices = ask(connection, body).await?;
    Ok(found.devices)
}

/// The devices a message to `other` is sealed for: theirs and `me`'s others, each checked
/// against the pins and with a session (keys claimed for those without one).
pub async fn recipients(
    connection: &Connection,
    endpoint: &mut Endpoint,
    me: &str,
    other: &str,
) -> Result<Vec<DeviceKeys>, SecretLinkError> {
    let theirs = devices_of(connection, other).await?;
    if theirs.is_empty() {
        return Err(SecretError::NoDevices {
            username: other.to_owned(),
        }
        .into());
    }
    endpoint.check_devices(other, &theirs)?;
    let mine = devices_of(connection, me).await?;
    endpoint.check_devices(me, &mine)?;
    let everyone: Vec<DeviceKeys> = theirs.into_iter().chain(mine).collect();
    let missing = endpoint.without_session(&everyone)?;
    if !missing.is_empty() {
        let claimed: results::ClaimedKeys = connection
            .request(RequestBody::ClaimKeys(requests::ClaimKeys {
                devices: missing,
            }))
            .await?;
        endpoint.start_sessions(&claimed.keys)?;
    }
    // A device that had no key left at all cannot be sealed for; the others still can.
    let unreachable = endpoint.without_session(&everyone)?;
    Ok(everyone
        .into_iter()
        .filter(|d| !unreachable.contains(&d.curve25519))
        .collect())
}

/// Where a secret message goes: from `me` to `other`, in their secret conversation, under the
/// client id the sender chose (a retry with it is stored once).
pub struct To<'a> {
    pub me: &'a str,
    pub other: &'a str,
    pub conversation_id: ConversationId,
    pub client_id: ClientMsgId,
}

/// Seals `text` for `other` (and `me`'s other devices) and sends it to the secret
/// conversation; the endpoint keeps the text for this device's history.
pub async fn send(
    connection: &Connection,
    endpoint: &mut Endpoint,
    to: To<'_>,
    text: &str,
) -> Result<Message, SecretLinkError> {
    let devices = recipients(connection, endpoint, to.me, to.other).await?;
    let sealed = endpoint.seal(text, &devices)?;
    let body = RequestBody::SendSealed(requests::SendSealed {
        conversation_id: to.conversation_id,
        client_id: to.client_id,
        sealed,
    });
    let sent: results::Sent = ask(connection, body).await?;
    endpoint.remember(&sent.message, &Opened::Text(text.to_owned()))?;
    Ok(sent.message)
}

/// What `message` says to this device (`None`: a replay, dropped). A sender device not
/// pinned yet is fetched from the server and checked first.
pub async fn read(
    connection: &Connection,
    endpoint: &mut Endpoint,
    message: &Message,
) -> Result<Option<Read>, SecretLinkError> {
    match endpoint.read(message) {
        Err(SecretError::UnknownDevice { username, .. }) => {
            let devices = devices_of(connection, &username).await?;
            endpoint.check_devices(&username, &devices)?;
            match endpoint.read(message) {
                Err(SecretError::UnknownDevice { device, .. }) => Ok(Some(Read {
                    opened: Opened::Unreadable(format!(
                        "sent from device {device}, which is not one of {username}'s"
                    )),
                    fresh: true,
                })),
                other => Ok(other?),
            }
        }
        other => Ok(other?),
    }
}

/// What `reveal` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revealed {
    /// Show the message.
    Shown,
    /// A replay: drop it.
    Replay,
    /// A verification step read for the first time: show it, and act on it.
    Step(Step),
}

/// Puts what `message` says to this device in its text (a verification step described, or
/// why it cannot be read in `unreadable`) and drops its ciphertexts, which nothing here needs
/// any more.
pub async fn reveal(
    connection: &Connection,
    endpoint: &mut Endpoint,
    message: &mut Message,
) -> Revealed {
    if message.sealed.is_none() {
        return Revealed::Shown;
    }
    let mut revealed = Revealed::Shown;
    match read(connection, endpoint, message).await {
        Ok(Some(Read { opened, fresh })) => match opened {
            Opened::Text(text) => message.text = text,
            Opened::Verify(step) => {
                message.text = step.describe();
                if fresh {
                    revealed = Revealed::Step(step);
                }
            }
            Opened::Unreadable(why) => message.unreadable = Some(why),
        },
        Ok(None) => return Revealed::Replay,
        Err(error) => message.unreadable = Some(error.to_string()),
    }
    if let Some(sealed) = message.sealed.as_deref_mut() {
        sealed.copies.clear();
    }
    revealed
}

/// Sends a verification step to `to.other`'s devices, or only to `device` once the
/// verification is bound to one.
pub async fn send_step(
    connection: &Connection,
    endpoint: &mut Endpoint,
    to: To<'_>,
    device: Option<&str>,
    step: Step,
) -> Result<(), SecretLinkError> {
    let mut devices = recipients(connection, endpoint, to.me, to.other).await?;
    devices.retain(|d| d.username == to.other && device.is_none_or(|id| d.curve25519 == id));
    let sealed = endpoint.seal_step(step.clone(), &devices)?;
    let body = RequestBody::SendSealed(requests::SendSealed {
        conversation_id: to.conversation_id,
        client_id: to.client_id,
        sealed,
    });
    let sent: results::Sent = ask(connection, body).await?;
    endpoint.remember(&sent.message, &Opened::Verify(step))?;
    Ok(())
}

/// Pins the devices `username` has now, after the user accepted a change; how many.
pub async fn accept_devices(
    connection: &Connection,
    endpoint: &mut Endpoint,
    username: &str,
) -> Result<Vec<DeviceKeys>, SecretLinkError> {
    let devices = devices_of(connection, username).await?;
    endpoint.accept_devices(username, &devices)?;
    Ok(devices)
}
