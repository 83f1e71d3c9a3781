//! Sends the outbox, oldest first, one message at a time so order is kept. A message leaves
//! the outbox only when the server has acknowledged it (or refused it for good); a resend
//! after a lost acknowledgement reuses its client id, so the server never stores it twice.

use super::SessionEvent;
use super::state::{ClientState, OutboxItem};
use crate::protocol::requests;
use crate::protocol::{RequestBody, results};
use crate::session::connection::{Connection, RequestError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// Wait before retrying a message the server could not take now, when it did not say how long.
const TRANSIENT_PAUSE: Duration = Duration::from_secs(1);

/// The longest pause a server's `retry_after_ms` gets: the number comes from the network.
const MAX_PAUSE: Duration = Duration::from_secs(60);

pub async fn pump(
    connection: Connection,
    state: Arc<Mutex<ClientState>>,
    ready: Arc<Notify>,
    events: mpsc::Sender<SessionEvent>,
) {
    loop {
        ready.notified().await;
        loop {
            let next = lock(&state).next_outbox();
            let item = match next {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(error) => {
                    let _ = events
                        .send(SessionEvent::Failed {
                            reason: error.to_string(),
                        })
                        .await;
                    return;
                }
            };
            match deliver(&connection, &item).await {
                Ok(sent) => {
                    let removed = lock(&state).remove_outbox(item.client_id);
                    if let Err(error) = removed {
                        let _ = events
                            .send(SessionEvent::Failed {
                                reason: error.to_string(),
                            })
                            .await;
                        return;
                    }
                    let event = SessionEvent::Sent {
                        client_id: item.client_id,
                        message: sent.message,
                    };
                    let _ = events.send(event).await;
                }
                Err(RequestError::Api(error)) if error.code.is_transient() => {
                    let pause = error.retry_after_ms.map(Duration::from_millis);
                    tokio::time::sleep(pause.unwrap_or(TRANSIENT_PAUSE).min(MAX_PAUSE)).await;
                }
                Err(RequestError::Api(error)) => {
                    let removed = lock(&state).remove_outbox(item.client_id);
                    if removed.is_err() {
                        return;
                    }
                    let event = SessionEvent::SendRefused {
                        client_id: item.client_id,
                        target: item.target,
                        error,
                    };
                    let _ = events.send(event).await;
                }
                // The session reconnects and starts a new pump; the message stays queued.
                Err(RequestError::Disconnected | RequestError::BadReply(_)) => return,
            }
        }
    }
}

fn lock(state: &Mutex<ClientState>) -> std::sync::MutexGuard<'_, ClientState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn deliver(
    connection: &Connection,
    item: &OutboxItem,
) -> Result<results::Sent, RequestError> {
    let conversation_id = item.target.resolve(connection).await?;
    connection
        .request(RequestBody::Send(requests::Send {
            conversation_id,
            client_id: item.client_id,
            text: item.text.clone(),
            reply_to: item.reply_to,
            file: None,
        }))
        .await
}
