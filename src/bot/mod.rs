//! A small library for bots: connect with a token, react to messages and payment events,
//! send text, files and invoices, refund. It stands on the client session, so a bot reconnects and
//! resumes like any client and never misses an invoice paid while it was down. A bot has a
//! device of its own (a secret store with a key file in its state dir), so people can talk to
//! it in a secret conversation: it reads their sealed messages and answers sealed.

pub mod coffee_shop;

use crate::money::{Currency, Money};
use crate::protocol::payments::{IdempotencyKey, Invoice, InvoiceId, LineItem};
use crate::protocol::requests;
use crate::protocol::{ClientMsgId, ConversationId, Event, Message, RequestBody, User, results};
use crate::secret::vault::Unlock;
use crate::session::backoff::Backoff;
use crate::session::target::Target;
use crate::session::{Session, SessionConfig, SessionError, SessionEvent};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use url::Url;

/// Attempts at a money request while the connection comes and goes, all with one key.
const ATTEMPTS: u32 = 20;
/// Pause between those attempts.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// The longest a server may make a bot wait before it sends a refused request again.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(10);

/// What a bot hears.
#[derive(Debug, Clone, PartialEq)]
pub enum BotEvent {
    Connected(User),
    /// Replay after a (re)connect is done; what follows is live.
    CaughtUp,
    /// A message from someone else (text or a card).
    Message(Message),
    /// One of the bot's invoices was paid: delivered once, also after the bot was offline.
    InvoicePaid(Invoice),
    /// One of its invoices was refunded or expired.
    InvoiceUpdated(Invoice),
    /// The token was refused or local state failed: the bot cannot go on.
    Stopped(String),
}

pub struct Bot {
    session: Session,
    events: mpsc::Receiver<SessionEvent>,
    me: Option<User>,
    /// Each conversation the bot has spoken in: the other person's name if it is secret.
    secret_peers: Mutex<HashMap<ConversationId, Option<String>>>,
}

impl Bot {
    /// Connects as the bot `token` belongs to; `state_dir` keeps its place in the event stream
    /// (and its outbox) across restarts.
    pub fn connect(server: Url, token: String, state_dir: PathBuf) -> Result<Bot, SessionError> {
        let (session, events) = Session::start(SessionConfig {
            server,
            ca_file: None,
            token,
            state_dir,
            subscribe: true,
            backoff: Backoff {
                base: Duration::from_millis(200),
                max: Duration::from_secs(10),
            },
            secret: Some(Unlock::KeyFile),
        })?;
        Ok(Bot {
            session,
            events,
            me: None,
            secret_peers: Mutex::new(HashMap::new()),
        })
    }

    /// The next thing worth a bot's attention; `None` once the session has ended.
    pub async fn next(&mut self) -> Option<BotEvent> {
        loop {
            let event = match self.events.recv().await? {
                SessionEvent::Connected { user } => {
                    self.me = Some(user.clone());
                    BotEvent::Connected(user)
                }
                SessionEvent::CaughtUp => BotEvent::CaughtUp,
                SessionEvent::Event {
                    event: Event::Message { message },
                    ..
                } => {
                    if self
                        .me
                        .as_ref()
                        .is_some_and(|me| me.id == message.sender.id)
                    {
                        continue;
                    }
                    if message.sealed.is_some() {
                        let peer = Some(message.sender.username.clone());
                        self.peers().insert(message.conversation_id, peer);
                    }
                    BotEvent::Message(message)
                }
                SessionEvent::Event {
                    event: Event::InvoicePaid { invoice },
                    ..
                } => BotEvent::InvoicePaid(*invoice),
                SessionEvent::Event {
                    event: Event::InvoiceUpdated { invoice },
                    ..
                } => BotEvent::InvoiceUpdated(*invoice),
                SessionEvent::AuthRejected { reason } | SessionEvent::Failed { reason } => {
                    BotEvent::Stopped(reason)
                }
                _ => continue,
            };
            return Some(event);
        }
    }

    /// Sends text to a conversation, through the outbox: exactly once, even across a drop. In
    /// a secret conversation it is sealed and sent at once, or, offline, held in the secret
    /// store and sent once back.
    pub async fn say(
        &self,
        conversation_id: ConversationId,
        text: impl Into<String>,
    ) -> Result<ClientMsgId, SessionError> {
        match self.secret_peer(conversation_id).await? {
            Some(other) => {
                let client_id = ClientMsgId::random();
                self.session
                    .send_secret(conversation_id, client_id, other, text.into())
                    .await?;
                Ok(client_id)
            }
            None => {
                self.session
                    .send_message(Target::Conversation(conversation_id), text.into())
                    .await
            }
        }
    }

    /// Sends the file at `path` to a conversation, `caption` under it: uploaded (resumed
    /// after a cut), then a message that carries it. Not in a secret conversation, whose
    /// server must not see it.
    pub async fn send_file(
        &self,
        conversation_id: ConversationId,
        path: &std::path::Path,
        caption: impl Into<String>,
    ) -> Result<Message, SessionError> {
        if self.secret_peer(conversation_id).await?.is_some() {
            return Err(SessionError::Request(
                crate::session::connection::RequestError::Api(crate::protocol::ApiError::invalid(
                    "files cannot go in a secret conversation yet",
                )),
            ));
        }
        let file = self
            .session
            .files()
            .await?
            .upload(path, &mut |_, _| {})
            .await?;
        let sent: results::Sent = self
            .session
            .request(RequestBody::Send(requests::Send {
                conversation_id,
                client_id: ClientMsgId::random(),
                text: caption.into(),
                reply_to: None,
                file: Some(file.id),
            }))
            .await?;
        Ok(sent.message)
    }

    /// The other person of `conversation_id` if it is a secret conversation; asked of the
    /// server once per conversation the bot has not heard a sealed message in.
    async fn secret_peer(
        &self,
        conversation_id: ConversationId,
    ) -> Result<Option<String>, SessionError> {
        if let Some(known) = self.peers().get(&conversation_id) {
            return Ok(known.clone());
        }
        let list: results::Conversations = self.session.request(RequestBody::Conversations).await?;
        let mut peers = self.peers();
        for conversation in list.conversations {
            let peer = conversation.secret.then_some(conversation.name);
            peers.insert(conversation.id, peer);
        }
        Ok(peers.get(&conversation_id).cloned().flatten())
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, Option<String>>> {
        // Held only to read or write the map; a poisoned lock still guards a valid map.
        self.secret_peers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bills the other member of a direct conversation. The total is computed from the items.
    pub async fn send_invoice(
        &self,
        conversation_id: ConversationId,
        items: Vec<LineItem>,
        currency: Currency,
        payload: impl Into<String>,
        expires_in: Option<Duration>,
    ) -> Result<Invoice, SessionError> {
        let total_minor = items
            .iter()
            .map(|item| {
                item.unit_price_minor
                    .saturating_mul(i64::from(item.quantity))
            })
            .fold(0_i64, i64::saturating_add);
        let body = RequestBody::SendInvoice(requests::SendInvoice {
            conversation_id,
            items,
            currency,
            total_minor,
            payload: payload.into(),
            expires_in_secs: expires_in.map(|d| d.as_secs().max(1)),
            idempotency_key: IdempotencyKey::random(),
        });
        let made: results::InvoiceMade = self.retrying(body).await?;
        Ok(made.invoice)
    }

    /// Gives back `amount` of a paid invoice (all that is left when `None`).
    pub async fn refund(
        &self,
        invoice_id: InvoiceId,
        amount: Option<Money>,
    ) -> Result<results::Refunded, SessionError> {
        let body = RequestBody::Refund(requests::Refund {
            invoice_id,
            amount,
            idempotency_key: IdempotencyKey::random(),
        });
        self.retrying(body).await
    }

    /// The bot's invoices, open ones first.
    pub async fn invoices(&self) -> Result<Vec<Invoice>, SessionError> {
        let reply: results::Invoices = self.retrying(RequestBody::Invoices).await?;
        Ok(reply.invoices)
    }

    /// Sends `body` until the server answers, or answers that it cannot for now (and when to
    /// try again); a request carrying an idempotency key is the same request each time, so it
    /// takes effect once however often it is sent.
    async fn retrying<T: DeserializeOwned>(&self, body: RequestBody) -> Result<T, SessionError> {
        let mut attempt = 1;
        loop {
            let answer = self.session.request::<T>(body.clone()).await;
            match answer.as_ref().err().and_then(pause_before_retry) {
                Some(pause) if attempt < ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(pause).await;
                }
                _ => return answer,
            }
        }
    }
}

/// How long to wait before sending a request again after `error`; `None` when sending it
/// again would not help.
fn pause_before_retry(error: &SessionError) -> Option<Duration> {
    use crate::session::connection::RequestError;
    match error {
        SessionError::Offline | SessionError::Request(RequestError::Disconnected) => {
            Some(RETRY_PAUSE)
        }
        SessionError::Request(RequestError::Api(refusal)) if refusal.code.is_transient() => Some(
            refusal
                .retry_after_ms
                .map_or(RETRY_PAUSE, Duration::from_millis)
                .min(MAX_RETRY_PAUSE),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ApiError, ErrorCode};
    use crate::session::connection::RequestError;

    fn refused(error: ApiError) -> SessionError {
        SessionError::Request(RequestError::Api(error))
    }

    #[test]
    fn a_bot_waits_as_long_as_the_server_asks_within_reason_and_only_when_it_helps() {
        assert_eq!(
            pause_before_retry(&refused(ApiError::unavailable())),
            Some(crate::protocol::UNAVAILABLE_RETRY)
        );
        let mut slow = ApiError::unavailable();
        slow.retry_after_ms = Some(3_600_000);
        assert_eq!(pause_before_retry(&refused(slow)), Some(MAX_RETRY_PAUSE));
        assert_eq!(
            pause_before_retry(&SessionError::Offline),
            Some(RETRY_PAUSE)
        );
        let refusal = ApiError::new(ErrorCode::InsufficientFunds, "your wallet holds €1.00");
        assert_eq!(pause_before_retry(&refused(refusal)), None);
    }
}
