//! Payment requests' table behind `Requests`: every query the ledger makes on it, each with a
//! one-line contract. The rules (who may pay or close one, what a key means) are in
//! `ledger/requests`.

use super::wallets::currency_of;
use crate::money::Money;
use crate::protocol::payments::{
    IdempotencyKey, PaymentRequest, PaymentRequestId, RequestStatus, TransferId,
};
use crate::protocol::{ApiError, ConversationId, TimestampMs, User, UserId};

/// A request about to be stored, open.
pub struct NewRequest<'a> {
    pub conversation_id: ConversationId,
    pub requester: UserId,
    pub payer: UserId,
    pub amount: Money,
    pub memo: &'a str,
    pub expires_at: Option<TimestampMs>,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a str,
}

pub trait Requests {
    /// Whether this transaction may sweep for due requests and invoices: false while another
    /// node's sweep holds it (until that transaction ends). One server alone always may.
    fn hold_expiry_sweep(&self) -> Result<bool, ApiError> {
        Ok(true)
    }
    /// Stores `request` as open at `at`; its id.
    fn insert_request(
        &self,
        request: &NewRequest,
        at: TimestampMs,
    ) -> Result<PaymentRequestId, ApiError>;
    /// The conversation request `id` is in, if there is such a request.
    fn request_conversation(
        &self,
        id: PaymentRequestId,
    ) -> Result<Option<ConversationId>, ApiError>;
    /// Request `id` as the wire shows it; an open one past its expiry reads as expired.
    fn request(&self, id: PaymentRequestId) -> Result<PaymentRequest, ApiError>;
    /// Up to 200 requests `user` made or is asked to pay: open ones first, then the newest.
    fn requests_involving(&self, user: UserId) -> Result<Vec<PaymentRequest>, ApiError>;
    /// The request `requester` made with `key`, and the fingerprint it was made with.
    fn request_by_key(
        &self,
        requester: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<(PaymentRequestId, String)>, ApiError>;
    /// Moves request `id` from open to `status` at `at`, recording the transfer that paid it.
    /// False: it was not open (any more), nothing changed.
    fn close_request(
        &self,
        id: PaymentRequestId,
        status: RequestStatus,
        transfer: Option<TransferId>,
        at: TimestampMs,
    ) -> Result<bool, ApiError>;
    /// Up to `limit` requests stored as open whose expiry is at or before `now`.
    fn requests_due(&self, now: TimestampMs, limit: u32)
    -> Result<Vec<PaymentRequestId>, ApiError>;
}

pub(super) const SELECT_REQUEST: &str = "SELECT r.id, r.conversation_id, r.requester_id, ru.username, r.payer_id,
    pu.username, r.amount_minor, r.currency, r.memo, r.status, r.expires_at_ms, r.created_at_ms, r.transfer_id
    FROM payment_requests r JOIN users ru ON ru.id = r.requester_id JOIN users pu ON pu.id = r.payer_id";

/// A request row before its currency code and status are checked.
pub(crate) struct RequestRow {
    pub(super) request: (PaymentRequestId, ConversationId, User, User),
    pub(super) amount_minor: i64,
    pub(super) currency: String,
    pub(super) memo: String,
    pub(super) status: String,
    pub(super) times: (Option<i64>, i64),
    pub(super) transfer_id: Option<i64>,
}

pub(crate) fn finish(row: RequestRow) -> Result<PaymentRequest, ApiError> {
    let (id, conversation_id, requester, payer) = row.request;
    let status = RequestStatus::parse(&row.status).ok_or_else(|| {
        tracing::error!(status = row.status, "unknown request status in the store");
        ApiError::internal()
    })?;
    // The sweeper marks due requests every few seconds; until it has, a read already says
    // expired, as a payment attempt would.
    let status = match (status, row.times.0) {
        (RequestStatus::Open, Some(expires_at)) if expires_at <= super::clock::now().0 => {
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
