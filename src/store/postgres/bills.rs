//! `Requests` and `Invoices` on PostgreSQL: the same contracts as SQLite's, read through the
//! same row types (`store::requests`, `store::invoices`) so both backends finish a row alike.

use super::PgTx;
use super::users::user;
use crate::protocol::payments::{
    IdempotencyKey, Invoice, InvoiceId, PaymentRequest, PaymentRequestId, RequestStatus, TransferId,
};
use crate::protocol::{ApiError, ConversationId, TimestampMs, User, UserId};
use crate::store::invoices::{self, InvoiceRow, Invoices, NewInvoice};
use crate::store::requests::{self, NewRequest, RequestRow, Requests, SELECT_REQUEST};

fn request_row(row: &postgres::Row) -> RequestRow {
    RequestRow {
        request: (
            PaymentRequestId(row.get(0)),
            ConversationId(row.get(1)),
            User::new(UserId(row.get(2)), row.get::<_, String>(3)),
            User::new(UserId(row.get(4)), row.get::<_, String>(5)),
        ),
        amount_minor: row.get(6),
        currency: row.get(7),
        memo: row.get(8),
        status: row.get(9),
        times: (row.get(10), row.get(11)),
        transfer_id: row.get(12),
    }
}

/// The advisory lock key of the expiry sweep: one node sweeps at a time.
const EXPIRY_SWEEP: i64 = 0x7175_6964_6578; // "quidex"

impl Requests for PgTx<'_> {
    fn hold_expiry_sweep(&self) -> Result<bool, ApiError> {
        let row = self
            .tx()
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&EXPIRY_SWEEP])?;
        Ok(row.get(0))
    }

    fn insert_request(
        &self,
        request: &NewRequest,
        at: TimestampMs,
    ) -> Result<PaymentRequestId, ApiError> {
        let row = self.tx().query_one(
            "INSERT INTO payment_requests (conversation_id, requester_id, payer_id, amount_minor,
                 currency, memo, status, expires_at_ms, idempotency_key, fingerprint, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10, $10) RETURNING id",
            &[
                &request.conversation_id.0,
                &request.requester.0,
                &request.payer.0,
                &request.amount.amount_minor,
                &request.amount.currency.code(),
                &request.memo,
                &request.expires_at.map(|t| t.0),
                &request.key.0,
                &request.fingerprint,
                &at.0,
            ],
        )?;
        Ok(PaymentRequestId(row.get(0)))
    }

    fn request_conversation(
        &self,
        id: PaymentRequestId,
    ) -> Result<Option<ConversationId>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT conversation_id FROM payment_requests WHERE id = $1",
            &[&id.0],
        )?;
        Ok(row.map(|row| ConversationId(row.get(0))))
    }

    fn request(&self, id: PaymentRequestId) -> Result<PaymentRequest, ApiError> {
        let sql = format!("{SELECT_REQUEST} WHERE r.id = $1");
        let row = self.tx().query_one(&sql, &[&id.0])?;
        requests::finish(request_row(&row))
    }

    fn requests_involving(&self, user: UserId) -> Result<Vec<PaymentRequest>, ApiError> {
        let sql = format!(
            "{SELECT_REQUEST} WHERE r.requester_id = $1 OR r.payer_id = $1
             ORDER BY (r.status = 'open') DESC, r.id DESC LIMIT 200"
        );
        let rows = self.tx().query(&sql, &[&user.0])?;
        rows.iter()
            .map(|row| requests::finish(request_row(row)))
            .collect()
    }

    fn request_by_key(
        &self,
        requester: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<(PaymentRequestId, String)>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id, fingerprint FROM payment_requests WHERE requester_id = $1 AND idempotency_key = $2",
            &[&requester.0, &key.0],
        )?;
        Ok(row.map(|row| (PaymentRequestId(row.get(0)), row.get(1))))
    }

    fn close_request(
        &self,
        id: PaymentRequestId,
        status: RequestStatus,
        transfer: Option<TransferId>,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.tx().execute(
            "UPDATE payment_requests SET status = $2, transfer_id = $3, updated_at_ms = $4
             WHERE id = $1 AND status = 'open'",
            &[&id.0, &status.as_str(), &transfer.map(|t| t.0), &at.0],
        )?;
        Ok(changed == 1)
    }

    fn requests_due(
        &self,
        now: TimestampMs,
        limit: u32,
    ) -> Result<Vec<PaymentRequestId>, ApiError> {
        let rows = self.tx().query(
            "SELECT id FROM payment_requests WHERE status = 'open' AND expires_at_ms <= $1
             ORDER BY id LIMIT $2",
            &[&now.0, &i64::from(limit)],
        )?;
        Ok(rows
            .iter()
            .map(|row| PaymentRequestId(row.get(0)))
            .collect())
    }
}

fn invoice_row(row: &postgres::Row) -> InvoiceRow {
    InvoiceRow {
        head: (
            InvoiceId(row.get(0)),
            ConversationId(row.get(1)),
            user(row, 2),
            user(row, 6),
        ),
        currency: row.get(10),
        total_minor: row.get(11),
        items: row.get(12),
        payload: row.get(13),
        status: row.get(14),
        times: (row.get(15), row.get(16)),
        transfer_id: row.get(17),
        refunded_minor: row.get(18),
    }
}

impl Invoices for PgTx<'_> {
    fn insert_invoice(&self, invoice: &NewInvoice, at: TimestampMs) -> Result<InvoiceId, ApiError> {
        let row = self.tx().query_one(
            "INSERT INTO invoices (conversation_id, merchant_id, buyer_id, currency, total_minor, items,
                 payload, status, expires_at_ms, idempotency_key, fingerprint, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11, $11) RETURNING id",
            &[
                &invoice.conversation_id.0,
                &invoice.merchant.0,
                &invoice.buyer.0,
                &invoice.currency.code(),
                &invoice.total_minor,
                &invoice.items,
                &invoice.payload,
                &invoice.expires_at.map(|t| t.0),
                &invoice.key.0,
                &invoice.fingerprint,
                &at.0,
            ],
        )?;
        Ok(InvoiceId(row.get(0)))
    }

    fn invoice_conversation(&self, id: InvoiceId) -> Result<Option<ConversationId>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT conversation_id FROM invoices WHERE id = $1",
            &[&id.0],
        )?;
        Ok(row.map(|row| ConversationId(row.get(0))))
    }

    fn invoice(&self, id: InvoiceId) -> Result<Invoice, ApiError> {
        let sql = format!("{} WHERE i.id = $1", invoices::select_invoice());
        let row = self.tx().query_one(&sql, &[&id.0])?;
        invoices::finish(invoice_row(&row))
    }

    fn invoices_involving(&self, user: UserId) -> Result<Vec<Invoice>, ApiError> {
        let sql = format!(
            "{} WHERE i.merchant_id = $1 OR i.buyer_id = $1 ORDER BY (i.status = 'open') DESC, i.id DESC LIMIT 200",
            invoices::select_invoice()
        );
        let rows = self.tx().query(&sql, &[&user.0])?;
        rows.iter()
            .map(|row| invoices::finish(invoice_row(row)))
            .collect()
    }

    fn invoice_by_key(
        &self,
        merchant: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<(InvoiceId, String)>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id, fingerprint FROM invoices WHERE merchant_id = $1 AND idempotency_key = $2",
            &[&merchant.0, &key.0],
        )?;
        Ok(row.map(|row| (InvoiceId(row.get(0)), row.get(1))))
    }

    fn mark_invoice_paid(
        &self,
        id: InvoiceId,
        transfer: TransferId,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.tx().execute(
            "UPDATE invoices SET status = 'paid', transfer_id = $2, updated_at_ms = $3
             WHERE id = $1 AND status = 'open'",
            &[&id.0, &transfer.0, &at.0],
        )?;
        Ok(changed == 1)
    }

    fn expire_invoice(&self, id: InvoiceId, at: TimestampMs) -> Result<bool, ApiError> {
        let changed = self.tx().execute(
            "UPDATE invoices SET status = 'expired', updated_at_ms = $2
             WHERE id = $1 AND status = 'open'",
            &[&id.0, &at.0],
        )?;
        Ok(changed == 1)
    }

    fn add_refund(
        &self,
        id: InvoiceId,
        amount_minor: i64,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.tx().execute(
            "UPDATE invoices SET refunded_minor = refunded_minor + $2, updated_at_ms = $3
             WHERE id = $1 AND refunded_minor <= total_minor - $2",
            &[&id.0, &amount_minor, &at.0],
        )?;
        Ok(changed == 1)
    }

    fn invoices_due(&self, now: TimestampMs, limit: u32) -> Result<Vec<InvoiceId>, ApiError> {
        let rows = self.tx().query(
            "SELECT id FROM invoices WHERE status = 'open' AND expires_at_ms <= $1
             ORDER BY id LIMIT $2",
            &[&now.0, &i64::from(limit)],
        )?;
        Ok(rows.iter().map(|row| InvoiceId(row.get(0))).collect())
    }
}
