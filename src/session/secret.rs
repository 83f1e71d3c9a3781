//! Secret conversations over a connection: what an endpoint (`secret::endpoint`) asks of the
//! server, in the order it must: publish this device and keep its one-time keys topped up;
//! before sealing, fetch and check the devices of both people and claim a key for each device
//! without a session; before reading, learn a sender device not pinned yet.

use super::connection::{Connection, RequestError};
use crate::protocol::requests;
use crate::protocol::secret::{DeviceKeys, ONE_TIME_KEYS_LOW};
use crate::protocol::{
    ClientMsgId, ConversationId, ErrorCode, Message, RequestBody, TimestampMs, results,
};
use crate::secret::SecretError;
use crate::secret::endpoint::Endpoint;
use crate::secret::message::Opened;
use crate::secret::message::describe_timer;
use crate::secret::reading::Read;
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
    // A new device's first request carries its fallback key: it is never listed without a
    // key to claim, even before its one-time keys follow. (Not every time: a device keeps
    // only its last two fallback keys, and one claimed may not have been used yet.)
    let first = !endpoint.fallback_published()?;
    let held = publish_keys(connection, endpoint.keys_to_publish(0, first)?).await?;
    if first {
        endpoint.note_fallback_published()?;
    }
    if held >= ONE_TIME_KEYS_LOW {
        return Ok(held);
    }
    let count = (ONE_TIME_KEYS_TARGET - held) as usize;
    // None left: the fallback key was probably handed out; a new one replaces it.
    let keys = endpoint.keys_to_publish(count, held == 0 && !first)?;
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
    if !devices.iter().any(|d| d.username == to.other) {
        return Err(SecretError::NoDevices {
            username: to.other.to_owned(),
        }
        .into());
    }
    // The conversation's timer, if set, goes inside the message and to the server.
    let timer = endpoint.timer(to.conversation_id)?;
    // As the other side counts it: from the time sealed inside the message.
    let expires_at = timer.map(|secs| TimestampMs(TimestampMs::now().0 + i64::from(secs) * 1000));
    let sealed = endpoint.seal(text, timer, &devices)?;
    let mut message = post(connection, &to, sealed.clone(), timer).await?;
    endpoint.remember(
        &message,
        &sealed,
        &Opened::Text(text.to_owned()),
        expires_at,
    )?;
    message.expires_at = expires_at;
    Ok(message)
}

/// Sends a sealed message where `to` says; the server's copy of it comes back.
async fn post(
    connection: &Connection,
    to: &To<'_>,
    sealed: crate::protocol::secret::Sealed,
    expires_in_secs: Option<u32>,
) -> Result<Message, RequestError> {
    let body = RequestBody::SendSealed(requests::SendSealed {
        conversation_id: to.conversation_id,
        client_id: to.client_id,
        sealed,
        expires_in_secs,
    });
    let sent: results::Sent = ask(connection, body).await?;
    Ok(sent.message)
}

/// Sets the conversation's disappearing-message timer (0: off) and tells the other person's
/// devices (and this user's others), sealed.
pub async fn send_timer(
    connection: &Connection,
    endpoint: &mut Endpoint,
    to: To<'_>,
    seconds: u32,
) -> Result<Message, SecretLinkError> {
    let devices = recipients(connection, endpoint, to.me, to.other).await?;
    let sealed = endpoint.seal_timer(seconds, &devices)?;
    let mut message = post(connection, &to, sealed.clone(), None).await?;
    endpoint.set_timer(to.conversation_id, seconds)?;
    endpoint.remember(&message, &sealed, &Opened::Timer(seconds), None)?;
    message.text = describe_timer(seconds);
    Ok(message)
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
                    expires_at: None,
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
    /// A verification step read for the first time: act on it, and show it if it is worth a
    /// line.
    Step(Step),
    /// A verification step read before that is not worth a line: drop it.
    Unshown,
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
        mark_if_plain_in_secret(endpoint, message);
        return Revealed::Shown;
    }
    let mut revealed = Revealed::Shown;
    let now = TimestampMs::now();
    // What disappeared is forgotten here before anything is read.
    if let Err(error) = endpoint.forget_expired(now) {
        tracing::warn!(%error, "cannot forget expired secret messages");
    }
    match read(connection, endpoint, message).await {
        Ok(Some(Read {
            expires_at: Some(at),
            ..
        })) if at <= now => return Revealed::Replay,
        Ok(Some(Read {
            opened,
            fresh,
            expires_at,
        })) => match opened {
            Opened::Text(text) => {
                message.text = text;
                message.expires_at = expires_at;
            }
            Opened::Timer(seconds) => message.text = describe_timer(seconds),
            Opened::Verify(step) => {
                message.text = step.describe();
                revealed = match (fresh, step.is_worth_a_line()) {
                    (true, _) => Revealed::Step(step),
                    (false, true) => Revealed::Shown,
                    (false, false) => return Revealed::Unshown,
                };
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

/// A plain message in a conversation known to be secret is the server's doing, whoever it
/// names: its text goes (so no notice or search shows it) and it is marked as not encrypted.
fn mark_if_plain_in_secret(endpoint: &Endpoint, message: &mut Message) {
    match endpoint.plain_in_secret(message) {
        Ok(None) => {}
        Ok(Some(why)) => {
            message.text.clear();
            message.unreadable = Some(why);
        }
        Err(error) => {
            message.text.clear();
            message.unreadable = Some(error.to_string());
        }
    }
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
    let message = post(connection, &to, sealed.clone(), None).await?;
    endpoint.remember(&message, &sealed, &Opened::Verify(step), None)?;
    Ok(())
}

/// Pins `username`'s devices after the user accepted the new ones a warning showed (refused
/// when the server's list changed since); the devices newly pinned.
pub async fn accept_devices(
    connection: &Connection,
    endpoint: &mut Endpoint,
    username: &str,
) -> Result<Vec<DeviceKeys>, SecretLinkError> {
    let devices = devices_of(connection, username).await?;
    Ok(endpoint.accept_devices(username, &devices)?)
}
