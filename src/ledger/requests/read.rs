//! Reading payment requests back from the store, with their parties and current state.

use crate::money::Money;
use crate::protocol::payments::{
    IdempotencyKey, PaymentRequest, PaymentRequestId, RequestStatus, TransferId,
};
use crate::protocol::{ApiError, ConversationId, TimestampMs, User, UserId};
use crate::store::Cached;
use crate::store::conversations::require_member;
use crate::store::wallets::currency_of;
use rusqlite::{Connection, OptionalExtension};

/// The request, if `user` is in its conversation; otherwise `forbidden`, as for conversations.
pub(super) fn visible(
    conn: &Connection,
    user: UserId,
    id: PaymentRequestId,
) -> Result<PaymentRequest, ApiError> {
    let conversation: Option<i64> = conn
        .query_row_cached(
            "SELECT conversation_id FROM payment_requests WHERE id = ?1",
            [id.0],
            |row| row.get(0),
        )
        .optional()?;
    let Some(conversation) = conversation else {
        return Err(ApiError::not_found(format!("no payment request {id}")));
    };
    require_member(conn, ConversationId(conversation), user)?;
    view(conn, id)
}

pub(super) fn by_key(
    conn: &Connection,
    requester: UserId,
    key: &IdempotencyKey,
) -> Result<Option<(PaymentRequestId, String)>, ApiError> {
    Ok(conn
        .query_row_cached(
            "SELECT id, fingerprint FROM payment_requests WHERE requester_id = ?1 AND idempotency_key = ?2",
            rusqlite::params![requester.0, key.0],
            |row| Ok((PaymentRequestId(row.get(0)?), row.get(1)?)),
        )
        .optional()?)
}

const SELECT_REQUEST: &str = "SELECT r.id, r.conversation_id, r.requester_id, ru.username, r.payer_id,
    pu.username, r.amount_minor, r.currency, r.memo, r.status, r.expires_at_ms, r.created_at_ms, r.transfer_id
    FROM payment_requests r JOIN users ru ON ru.id = r.requester_id JOIN users pu ON pu.id = r.payer_id";

/// A request row before its currency code is checked.
struct RequestRow {
    request: (PaymentRequestId, ConversationId, User, User),
    amount_minor: i64,
    currency: String,
    memo: String,
    status: String,
    times: (Option<i64>, i64),
    transfer_id: Option<i64>,
}

fn from_row(row: &rusqlite::Row) -> rusqlite::Result<RequestRow> {
    Ok(RequestRow {
        request: (
            PaymentRequestId(row.get(0)?),
            ConversationId(row.get(1)?),
            User::new(UserId(row.get(2)?), row.get::<_, String>(3)?),
            User::new(UserId(row.get(4)?), row.get::<_, String>(5)?),
        ),
        amount_minor: row.get(6)?,
        currency: row.get(7)?,
        memo: row.get(8)?,
        status: row.get(9)?,
        times: (row.get(10)?, row.get(11)?),
        transfer_id: row.get(12)?,
    })
}

fn finish(row: RequestRow) -> Result<PaymentRequest, ApiError> {
    let (id, conversation_id, requester, payer) = row.request;
    let status = RequestStatus::parse(&row.status).ok_or_else(|| {
        tracing::error!(status = row.status, "unknown request status in the store");
        ApiError::internal()
    })?;
    // The sweeper marks due requests every few seconds; until it has, a read already says
    // expired, as a payment attempt would.
    let status = match (status, row.times.0) {
        (RequestStatus::Open, Some(expires_at)) if expires_at <= crate::store::now_ms() => {
            RequestStatus::Expired
        }
        (status, _) => status,
    };
    Ok(PaymentRequest {
        id,
        conversation_id,
        requester,
        payer,
        amount: Money::new(row.amount_minor, currency_of(&row.currency)?),
        memo: row.memo,
        status,
        expires_at: row.times.0.map(TimestampMs),
        created_at: TimestampMs(row.times.1),
        transfer_id: row.transfer_id.map(TransferId),
    })
}

pub fn view(conn: &Connection, id: PaymentRequestId) -> Result<PaymentRequest, ApiError> {
    let sql = format!("{SELECT_REQUEST} WHERE r.id = ?1");
    finish(conn.query_row_cached(&sql, [id.0], from_row)?)
}

/// Requests `user` made or is asked to pay: open ones first, then the newest.
pub fn involving(conn: &Connection, user: UserId) -> Result<Vec<PaymentRequest>, ApiError> {
    let sql = format!(
        "{SELECT_REQUEST} WHERE r.requester_id = ?1 OR r.payer_id = ?1
         ORDER BY (r.status = 'open') DESC, r.id DESC LIMIT 200"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map([user.0], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(finish).collect()
}
