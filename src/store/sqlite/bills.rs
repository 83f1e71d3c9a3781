//! `Requests` and `Invoices` on SQLite: the same contracts as PostgreSQL's.

use crate::protocol::payments::{
    IdempotencyKey, Invoice, InvoiceId, PaymentRequest, PaymentRequestId, RequestStatus, TransferId,
};
use crate::protocol::{ApiError, ConversationId, TimestampMs, User, UserId};
use crate::store::invoices::{InvoiceRow, NewInvoice, select_invoice};
use crate::store::requests::{NewRequest, RequestRow, SELECT_REQUEST};
use crate::store::sqlite::users::user_from_row;
use crate::store::{Cached, Invoices, Requests, invoices, requests};
use rusqlite::{Connection, OptionalExtension};

impl Requests for Connection {
    fn insert_request(
        &self,
        request: &NewRequest,
        at: TimestampMs,
    ) -> Result<PaymentRequestId, ApiError> {
        self.execute_cached(
            "INSERT INTO payment_requests (conversation_id, requester_id, payer_id, amount_minor,
                 currency, memo, status, expires_at_ms, idempotency_key, fingerprint, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?8, ?9, ?10, ?10)",
            rusqlite::params![
                request.conversation_id.0,
                request.requester.0,
                request.payer.0,
                request.amount.amount_minor,
                request.amount.currency.code(),
                request.memo,
                request.expires_at.map(|t| t.0),
                request.key.0,
                request.fingerprint,
                at.0
            ],
        )?;
        Ok(PaymentRequestId(self.last_insert_rowid()))
    }

    fn request_conversation(
        &self,
        id: PaymentRequestId,
    ) -> Result<Option<ConversationId>, ApiError> {
        let conversation: Option<i64> = self
            .query_row_cached(
                "SELECT conversation_id FROM payment_requests WHERE id = ?1",
                [id.0],
                |row| row.get(0),
            )
            .optional()?;
        Ok(conversation.map(ConversationId))
    }

    fn request(&self, id: PaymentRequestId) -> Result<PaymentRequest, ApiError> {
        let sql = format!("{SELECT_REQUEST} WHERE r.id = ?1");
        requests::finish(self.query_row_cached(&sql, [id.0], request_from_row)?)
    }

    fn requests_involving(&self, user: UserId) -> Result<Vec<PaymentRequest>, ApiError> {
        let sql = format!(
            "{SELECT_REQUEST} WHERE r.requester_id = ?1 OR r.payer_id = ?1
             ORDER BY (r.status = 'open') DESC, r.id DESC LIMIT 200"
        );
        let rows = self
            .prepare_cached(&sql)?
            .query_map([user.0], request_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(requests::finish).collect()
    }

    fn request_by_key(
        &self,
        requester: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<(PaymentRequestId, String)>, ApiError> {
        Ok(self
            .query_row_cached(
                "SELECT id, fingerprint FROM payment_requests WHERE requester_id = ?1 AND idempotency_key = ?2",
                rusqlite::params![requester.0, key.0],
                |row| Ok((PaymentRequestId(row.get(0)?), row.get(1)?)),
            )
            .optional()?)
    }

    fn close_request(
        &self,
        id: PaymentRequestId,
        status: RequestStatus,
        transfer: Option<TransferId>,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.execute_cached(
            "UPDATE payment_requests SET status = ?2, transfer_id = ?3, updated_at_ms = ?4
             WHERE id = ?1 AND status = 'open'",
            rusqlite::params![id.0, status.as_str(), transfer.map(|t| t.0), at.0],
        )?;
        Ok(changed == 1)
    }

    fn requests_due(
        &self,
        now: TimestampMs,
        limit: u32,
    ) -> Result<Vec<PaymentRequestId>, ApiError> {
        Ok(self
            .prepare_cached(
                "SELECT id FROM payment_requests WHERE status = 'open' AND expires_at_ms <= ?1 LIMIT ?2",
            )?
            .query_map(rusqlite::params![now.0, limit], |row| {
                Ok(PaymentRequestId(row.get(0)?))
            })?
            .collect::<Result<_, _>>()?)
    }
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
        invoices::finish(self.query_row_cached(&sql, [id.0], invoice_from_row)?)
    }

    fn invoices_involving(&self, user: UserId) -> Result<Vec<Invoice>, ApiError> {
        let sql = format!(
            "{} WHERE i.merchant_id = ?1 OR i.buyer_id = ?1 ORDER BY (i.status = 'open') DESC, i.id DESC LIMIT 200",
            select_invoice()
        );
        let rows = self
            .prepare_cached(&sql)?
            .query_map([user.0], invoice_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(invoices::finish).collect()
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

pub(crate) fn request_from_row(row: &rusqlite::Row) -> rusqlite::Result<RequestRow> {
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

pub(crate) fn invoice_from_row(row: &rusqlite::Row) -> rusqlite::Result<InvoiceRow> {
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
