//! A small library for bots: connect with a token, react to messages and payment events,
//! send text and invoices, refund. It stands on the client session, so a bot reconnects and
//! resumes like any client and never misses an invoice paid while it was down.

pub mod coffee_shop;

use crate::money::{Currency, Money};
use crate::protocol::payments::{IdempotencyKey, Invoice, InvoiceId, LineItem};
use crate::protocol::requests;
use crate::protocol::{ClientMsgId, ConversationId, Event, Message, RequestBody, User, results};
use crate::session::backoff::Backoff;
use crate::session::target::Target;
use crate::session::{Session, SessionConfig, SessionError, SessionEvent};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;
use url::Url;

/// Attempts at a money request while the connection comes and goes, all with one key.
const ATTEMPTS: u32 = 20;
/// Pause between those attempts.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

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
            secret: None,
        })?;
        Ok(Bot {
            session,
            events,
            me: None,
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

    /// Sends text to a conversation, through the outbox: exactly once, even across a drop.
    pub async fn say(
        &self,
        conversation_id: ConversationId,
        text: impl Into<String>,
    ) -> Result<ClientMsgId, SessionError> {
        self.session
            .send_message(Target::Conversation(conversation_id), text.into())
            .await
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

    /// Sends `body` until the server answers; a request carrying an idempotency key is the same
    /// request each time, so it takes effect once however often it is sent.
    async fn retrying<T: DeserializeOwned>(&self, body: RequestBody) -> Result<T, SessionError> {
        let mut attempt = 1;
        loop {
            match self.session.request::<T>(body.clone()).await {
                Err(
                    SessionError::Offline
                    | SessionError::Request(crate::session::connection::RequestError::Disconnected),
                ) if attempt < ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                other => return other,
            }
        }
    }
}
