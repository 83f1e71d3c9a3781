//! Reading invoices back from the store, with their parties and current state.

use crate::money::Money;
use crate::protocol::payments::{IdempotencyKey, Invoice, InvoiceId, InvoiceStatus, TransferId};
use crate::protocol::{ApiError, ConversationId, TimestampMs, User, UserId};
use crate::store::Cached;
use crate::store::accounts::{USER_COLUMNS, user_from_row};
use crate::store::conversations::require_member;
use crate::store::wallets::currency_of;
use rusqlite::{Connection, OptionalExtension};

pub(super) fn visible(conn: &Connection, user: UserId, id: InvoiceId) -> Result<Invoice, ApiError> {
    let conversation: Option<i64> = conn
        .query_row_cached(
            "SELECT conversation_id FROM invoices WHERE id = ?1",
            [id.0],
            |row| row.get(0),
        )
        .optional()?;
    let Some(conversation) = conversation else {
        return Err(ApiError::not_found(format!("no invoice {id}")));
    };
    require_member(conn, ConversationId(conversation), user)?;
    view(conn, id)
}

pub(super) fn by_key(
    conn: &Connection,
    merchant: UserId,
    key: &IdempotencyKey,
) -> Result<Option<(InvoiceId, String)>, ApiError> {
    Ok(conn
        .query_row_cached(
            "SELECT id, fingerprint FROM invoices WHERE merchant_id = ?1 AND idempotency_key = ?2",
            rusqlite::params![merchant.0, key.0],
            |row| Ok((InvoiceId(row.get(0)?), row.get(1)?)),
        )
        .optional()?)
}

fn select_invoice() -> String {
    let merchant = USER_COLUMNS.replace("u.", "mu.");
    let buyer = USER_COLUMNS.replace("u.", "bu.");
    format!(
        "SELECT i.id, i.conversation_id, {merchant}, {buyer}, i.currency, i.total_minor, i.items,
                i.payload, i.status, i.expires_at_ms, i.created_at_ms, i.transfer_id, i.refunded_minor
         FROM invoices i JOIN users mu ON mu.id = i.merchant_id JOIN users bu ON bu.id = i.buyer_id"
    )
}

/// An invoice row before its text columns are checked.
struct InvoiceRow {
    head: (InvoiceId, ConversationId, User, User),
    currency: String,
    total_minor: i64,
    items: String,
    payload: String,
    status: String,
    times: (Option<i64>, i64),
    transfer_id: Option<i64>,
    refunded_minor: i64,
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

fn finish(row: InvoiceRow) -> Result<Invoice, ApiError> {
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
        (InvoiceStatus::Open, Some(at)) if at <= crate::store::now_ms() => InvoiceStatus::Expired,
        (status, _) => status,
    }
}

pub fn view(conn: &Connection, id: InvoiceId) -> Result<Invoice, ApiError> {
    let sql = format!("{} WHERE i.id = ?1", select_invoice());
    finish(conn.query_row_cached(&sql, [id.0], from_row)?)
}

/// Invoices `user` sent or was sent: open ones first, then the newest.
pub fn involving(conn: &Connection, user: UserId) -> Result<Vec<Invoice>, ApiError> {
    let sql = format!(
        "{} WHERE i.merchant_id = ?1 OR i.buyer_id = ?1 ORDER BY (i.status = 'open') DESC, i.id DESC LIMIT 200",
        select_invoice()
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map([user.0], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(finish).collect()
}
