//! Invoices' table behind `Invoices`: every query the ledger makes on it, each with a one-line
//! contract. The rules (who may pay or refund, what a key means) are in `ledger/invoices`.

use super::Cached;
use super::accounts::{USER_COLUMNS, user_from_row};
use super::wallets::currency_of;
use crate::money::{Currency, Money};
use crate::protocol::payments::{IdempotencyKey, Invoice, InvoiceId, InvoiceStatus, TransferId};
use crate::protocol::{ApiError, ConversationId, TimestampMs, User, UserId};
use rusqlite::{Connection, OptionalExtension};

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

impl Invoices for Connection {
    fn insert_invoice(&self, invoice: &NewInvoice, at: TimestampMs) -> Result<InvoiceId, ApiError> {
        self.execute_cached(
            "INSERT INTO invoices (conversation_id, merchant_id, buyer_id, currency, total_minor, items,
                 payload, status, expires_at_ms, idempotency_key, fingerprint, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9, ?10, ?11, ?11)",
            rusqlite::params![
                invoice.conversation_id.0,
                invoice.merchant.0,
                invoice.buyer.0,
                invoice.currency.code(),
                invoice.total_minor,
                invoice.items,
                invoice.payload,
                invoice.expires_at.map(|t| t.0),
                invoice.key.0,
                invoice.fingerprint,
                at.0
            ],
        )?;
        Ok(InvoiceId(self.last_insert_rowid()))
    }

    fn invoice_conversation(&self, id: InvoiceId) -> Result<Option<ConversationId>, ApiError> {
        let conversation: Option<i64> = self
            .query_row_cached(
                "SELECT conversation_id FROM invoices WHERE id = ?1",
                [id.0],
                |row| row.get(0),
            )
            .optional()?;
        Ok(conversation.map(ConversationId))
    }

    fn invoice(&self, id: InvoiceId) -> Result<Invoice, ApiError> {
        let sql = format!("{} WHERE i.id = ?1", select_invoice());
        finish(self.query_row_cached(&sql, [id.0], from_row)?)
    }

    fn invoices_involving(&self, user: UserId) -> Result<Vec<Invoice>, ApiError> {
        let sql = format!(
            "{} WHERE i.merchant_id = ?1 OR i.buyer_id = ?1 ORDER BY (i.status = 'open') DESC, i.id DESC LIMIT 200",
            select_invoice()
        );
        let rows = self
            .prepare_cached(&sql)?
            .query_map([user.0], from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(finish).collect()
    }

    fn invoice_by_key(
        &self,
        merchant: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<(InvoiceId, String)>, ApiError> {
        Ok(self
            .query_row_cached(
                "SELECT id, fingerprint FROM invoices WHERE merchant_id = ?1 AND idempotency_key = ?2",
                rusqlite::params![merchant.0, key.0],
                |row| Ok((InvoiceId(row.get(0)?), row.get(1)?)),
            )
            .optional()?)
    }

    fn mark_invoice_paid(
        &self,
        id: InvoiceId,
        transfer: TransferId,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.execute_cached(
            "UPDATE invoices SET status = 'paid', transfer_id = ?2, updated_at_ms = ?3
             WHERE id = ?1 AND status = 'open'",
            rusqlite::params![id.0, transfer.0, at.0],
        )?;
        Ok(changed == 1)
    }

    fn expire_invoice(&self, id: InvoiceId, at: TimestampMs) -> Result<bool, ApiError> {
        let changed = self.execute_cached(
            "UPDATE invoices SET status = 'expired', updated_at_ms = ?2
             WHERE id = ?1 AND status = 'open'",
            [id.0, at.0],
        )?;
        Ok(changed == 1)
    }

    fn add_refund(
        &self,
        id: InvoiceId,
        amount_minor: i64,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.execute_cached(
            "UPDATE invoices SET refunded_minor = refunded_minor + ?2, updated_at_ms = ?3
             WHERE id = ?1 AND refunded_minor + ?2 <= total_minor",
            rusqlite::params![id.0, amount_minor, at.0],
        )?;
        Ok(changed == 1)
    }

    fn invoices_due(&self, now: TimestampMs, limit: u32) -> Result<Vec<InvoiceId>, ApiError> {
        Ok(self
            .prepare_cached(
                "SELECT id FROM invoices WHERE status = 'open' AND expires_at_ms <= ?1 LIMIT ?2",
            )?
            .query_map(rusqlite::params![now.0, limit], |row| {
                Ok(InvoiceId(row.get(0)?))
            })?
            .collect::<Result<_, _>>()?)
    }
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
pub(super) struct InvoiceRow {
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

fn from_row(row: &rusqlite::Row) -> rusqlite::Result<InvoiceRow> {
    Ok(InvoiceRow {
        head: (
            InvoiceId(row.get(0)?),
            ConversationId(row.get(1)?),
            user_from_row(row, 2)?,
            user_from_row(row, 6)?,
        ),
        currency: row.get(10)?,
        total_minor: row.get(11)?,
        items: row.get(12)?,
        payload: row.get(13)?,
        status: row.get(14)?,
        times: (row.get(15)?, row.get(16)?),
        transfer_id: row.get(17)?,
        refunded_minor: row.get(18)?,
    })
}

pub(super) fn finish(row: InvoiceRow) -> Result<Invoice, ApiError> {
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
        (InvoiceStatus::Open, Some(at)) if at <= super::now_ms() => InvoiceStatus::Expired,
        (status, _) => status,
    }
}
