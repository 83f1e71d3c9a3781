//! Payment partners: where money comes into quid from (a card, at the partner's checkout page)
//! and goes out to (a bank account). One trait, [`Provider`], with an adapter per partner:
//! `sandbox` (quid's own test partner, `quid partner-sandbox`) and `stripe`. An adapter turns
//! quid's asks into the partner's HTTP API and the partner's webhooks into [`PartnerEvent`]s;
//! the ledger decides what an event moves (`ledger/funding.rs`).
//!
//! Calls block (they are HTTP requests with a timeout); the server makes them off its async
//! threads.

pub mod sandbox;
pub mod signature;
pub mod stripe;

use crate::money::{Currency, Money};
use crate::protocol::funding::{FundingId, FundingKind, FundingStatus};
use std::time::Duration;

/// How long one call to a partner may take before it counts as unreachable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest webhook body accepted.
pub const MAX_WEBHOOK_BYTES: usize = 64 * 1024;

/// A top-up to create at the partner.
pub struct TopupOrder<'a> {
    pub funding: FundingId,
    pub amount: Money,
    /// Sent as the partner's idempotency key: a retry after a crash finds the same top-up.
    pub key: &'a str,
}

/// A payout to create at the partner.
pub struct PayoutOrder<'a> {
    pub funding: FundingId,
    pub amount: Money,
    /// An IBAN, compact.
    pub bank_account: &'a str,
    pub key: &'a str,
}

/// What the partner made: its reference, and a top-up's checkout page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub reference: String,
    pub checkout_url: Option<String>,
}

/// What a partner says about one of its top-ups or payouts: in a webhook, or answering a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerEvent {
    /// The partner's name in the server's configuration.
    pub provider: String,
    /// Unique per event at the partner; a fetch's answer gets one made of the reference and
    /// the status, so the same answer twice is one event.
    pub event_id: String,
    pub reference: String,
    pub kind: FundingKind,
    pub status: FundingStatus,
    pub amount: Money,
    /// Why it failed, in the partner's words.
    pub reason: String,
}

/// What went wrong talking to a partner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartnerError {
    /// The partner said no (a currency it does not take, an amount over its limit): asking
    /// again will not help.
    #[error("{0}")]
    Refused(String),
    /// No answer, or not one that could be read: asking again later may work.
    #[error("the payment partner cannot be reached: {0}")]
    Unreachable(String),
}

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("bad signature: {0}")]
    Signature(#[from] signature::SignatureError),
    #[error("unreadable event: {0}")]
    Unreadable(String),
}

/// One payment partner, as quid uses it.
pub trait Provider: Send + Sync {
    /// The name the server's configuration gives it, and the clearing accounts carry.
    fn name(&self) -> &str;
    /// Whether it takes `currency`; `Err` says why not, in words for the user.
    fn accepts(&self, currency: Currency) -> Result<(), String>;
    /// Whether it makes payouts at all; `Err` says why not (refused before anything moves).
    fn pays_out(&self) -> Result<(), String> {
        Ok(())
    }
    /// Creates a top-up the person completes at the returned checkout page.
    fn create_topup(&self, order: &TopupOrder) -> Result<Created, PartnerError>;
    /// Creates a payout of money quid already holds for it.
    fn create_payout(&self, order: &PayoutOrder) -> Result<Created, PartnerError>;
    /// How the top-up or payout `reference` stands now.
    fn fetch(&self, kind: FundingKind, reference: &str) -> Result<PartnerEvent, PartnerError>;
    /// Checks a webhook's signature (header `signature`, at `now` in Unix seconds) and reads
    /// the event in it. `Ok(None)`: a genuine event about something quid does not follow.
    fn webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Option<PartnerEvent>, WebhookError>;
    /// The HTTP header its webhooks carry their signature in.
    fn signature_header(&self) -> &'static str;
}

/// An HTTP agent for partner calls: a timeout, statuses as values (an error reply carries the
/// partner's reason in its body), no redirects followed.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(CALL_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// The JSON of a partner's reply, or why there is none: a 4xx (but 429) is the partner
/// refusing, in the words of its error body's `error.message` (both the sandbox's and
/// Stripe's shape), anything else the partner unreachable. `partner` names it in messages.
pub fn read_reply<T: serde::de::DeserializeOwned>(
    partner: &str,
    reply: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<T, PartnerError> {
    let mut reply = reply.map_err(|e| PartnerError::Unreachable(e.to_string()))?;
    let status = reply.status();
    if status.is_success() {
        return reply
            .body_mut()
            .read_json()
            .map_err(|e| PartnerError::Unreachable(format!("unreadable reply: {e}")));
    }
    let message = reply
        .body_mut()
        .read_json::<serde_json::Value>()
        .ok()
        .and_then(|body| body["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.to_string());
    let message = format!("{partner}: {message}");
    if status.is_client_error() && status.as_u16() != 429 {
        Err(PartnerError::Refused(message))
    } else {
        Err(PartnerError::Unreachable(message))
    }
}

/// The current time in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
