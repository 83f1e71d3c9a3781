//! Invoices' table behind `Invoices`: every query the ledger makes on it, each with a one-line
//! contract. The rules (who may pay or refund, what a key means) are in `ledger/invoices`.

use super::accounts::USER_COLUMNS;
use super::wallets::currency_of;
use crate::money::{Currency, Money};
use crate::protocol::payments::{IdempotencyKey, Invoice, InvoiceId, InvoiceStatus, TransferId};
use crate::protocol::{ApiError, ConversationId, TimestampMs, User, UserId};

/// An invoice about to be stored, open.
pub struct NewInvoice<'a> {
    pub conversation_id: ConversationId,
    pub merchant: UserId,
    pub buyer: UserId,
    pub currency: Currency,
    pub total_minor: i64,
    /// The line items as JSON.
    pub items: &'a str,
    pub payload: &'a str,
    pub expires_at: Option<TimestampMs>,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a str,
}

pub trait Invoices {
    /// Stores `invoice` as open at `at`; its id.
    fn insert_invoice(&self, invoice: &NewInvoice, at: TimestampMs) -> Result<InvoiceId, ApiError>;
    /// The conversation invoice `id` is in, if there is such an invoice.
    fn invoice_conversation(&self, id: InvoiceId) -> Result<Option<ConversationId>, ApiError>;
    /// Invoice `id` as the wire shows it; an open one past its expiry reads as expired.
    fn invoice(&self, id: InvoiceId) -> Result<Invoice, ApiError>;
    /// Up to 200 invoices `user` sent or was sent: open ones first, then the newest.
    fn invoices_involving(&self, user: UserId) -> Result<Vec<Invoice>, ApiError>;
    /// The invoice `merchant` sent with `key`, and the fingerprint it was sent with.
    fn invoice_by_key(
        &self,
        merchant: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<(InvoiceId, String)>, ApiError>;
    /// Moves invoice `id` from open to paid by `transfer` at `at`. False: it was not open.
    fn mark_invoice_paid(
        &self,
        id: InvoiceId,
        transfer: TransferId,
        at: TimestampMs,
    ) -> Result<bool, ApiError>;
    /// Moves invoice `id` from open to expired at `at`. False: it was not open.
    fn expire_invoice(&self, id: InvoiceId, at: TimestampMs) -> Result<bool, ApiError>;
    /// Adds `amount_minor` to what invoice `id` has refunded, unless that would exceed its
    /// total. False: refused, nothing changed.
    fn add_refund(
        &self,
        id: InvoiceId,
        amount_minor: i64,
        at: TimestampMs,
    ) -> Result<bool, ApiError>;
    /// Up to `limit` invoices stored as open whose expiry is at or before `now`.
    fn invoices_due(&self, now: TimestampMs, limit: u32) -> Result<Vec<InvoiceId>, ApiError>;
}

pub(super) fn select_invoice() -> String {
    let merchant = USER_COLUMNS.replace("u.", "mu.");
    let buyer = USER_COLUMNS.replace("u.", "bu.");
    format!(
        "SELECT i.id, i.conversation_id, {merchant}, {buyer}, i.currency, i.total_minor, i.items,
                i.payload, i.status, i.expires_at_ms, i.created_at_ms, i.transfer_id, i.refunded_minor
         FROM invoices i JOIN users mu ON mu.id = i.merchant_id JOIN users bu ON bu.id = i.buyer_id"
    )
}

/// An invoice row before its text columns are checked.
pub(crate) struct InvoiceRow {
    pub(super) head: (InvoiceId, ConversationId, User, User),
    pub(super) currency: String,
    pub(super) total_minor: i64,
    pub(super) items: String,
    pub(super) payload: String,
    pub(super) status: String,
    pub(super) times: (Option<i64>, i64),
    pub(super) transfer_id: Option<i64>,
    pub(super) refunded_minor: i64,
}

pub(crate) fn finish(row: InvoiceRow) -> Result<Invoice, ApiError> {
    let (id, conversation_id, merchant, buyer) = row.head;
    let currency = currency_of(&row.currency)?;
    let corrupt = |what: &str| {
        tracing::error!(invoice = %id, what, "unreadable invoice in the store");
        ApiError::internal()
    };
    Ok(Invoice {
        id,
        conversation_id,
        merchant,
        buyer,
        items: serde_json::from_str(&row.items).map_err(|_| corrupt("items"))?,
        total: Money::new(row.total_minor, currency),
        payload: row.payload,
        status: current_status(
            InvoiceStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            row.times.0,
        ),
        expires_at: row.times.0.map(TimestampMs),
        created_at: TimestampMs(row.times.1),
        transfer_id: row.transfer_id.map(TransferId),
        refunded: Money::new(row.refunded_minor, currency),
    })
}

/// An open invoice past its expiry reads as expired, before the sweeper has marked it so, just
/// as paying it would be refused.
fn current_status(stored: InvoiceStatus, expires_at_ms: Option<i64>) -> InvoiceStatus {
    match (stored, expires_at_ms) {
        (InvoiceStatus::Open, Some(at)) if at <= super::clock::now().0 => InvoiceStatus::Expired,
        (status, _) => status,
    }
}
