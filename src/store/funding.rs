//! Top-ups and payouts (`fundings`) and the partner events applied to them
//! (`provider_events`), behind `Fundings`: every query the ledger makes on them, each with a
//! one-line contract. The rules (what an event may change, what money moves) are in
//! `ledger/funding.rs`.

use super::wallets::currency_of;
use crate::money::Money;
use crate::protocol::funding::{Funding, FundingId, FundingKind, FundingStatus, masked_account};
use crate::protocol::payments::{IdempotencyKey, TransferId};
use crate::protocol::{ApiError, TimestampMs, UserId};

/// A top-up or payout about to be stored, pending.
pub struct NewFunding<'a> {
    pub kind: FundingKind,
    pub user: UserId,
    pub provider: &'a str,
    pub amount: Money,
    /// A payout's IBAN, compact.
    pub bank_account: Option<&'a str>,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a str,
    /// A payout's debit, made in the same transaction.
    pub transfer: Option<TransferId>,
}

/// A funding with what the server keeps beside its wire form.
#[derive(Debug, Clone)]
pub struct StoredFunding {
    pub funding: Funding,
    pub user: UserId,
    pub provider_ref: Option<String>,
    /// A payout's IBAN, whole.
    pub bank_account: Option<String>,
    pub key: IdempotencyKey,
    pub fingerprint: String,
}

/// How a funding ends.
pub struct Outcome<'a> {
    pub status: FundingStatus,
    pub reason: &'a str,
    /// A succeeded top-up's credit.
    pub transfer: Option<TransferId>,
    /// A failed payout's return.
    pub return_transfer: Option<TransferId>,
}

pub trait Fundings {
    /// Stores `funding` as pending at `at`; its id.
    fn insert_funding(&self, funding: &NewFunding, at: TimestampMs) -> Result<FundingId, ApiError>;
    /// Funding `id` with what the server keeps beside it.
    fn funding(&self, id: FundingId) -> Result<StoredFunding, ApiError>;
    /// The funding `user` asked for with `key`, if any.
    fn funding_by_key(
        &self,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<FundingId>, ApiError>;
    /// The funding `provider` calls `reference`, if any.
    fn funding_by_reference(
        &self,
        provider: &str,
        reference: &str,
    ) -> Result<Option<FundingId>, ApiError>;
    /// Records the partner's reference (and a top-up's checkout page) for funding `id`, which
    /// had none. False: it had one already.
    fn set_funding_reference(
        &self,
        id: FundingId,
        reference: &str,
        checkout_url: Option<&str>,
        at: TimestampMs,
    ) -> Result<bool, ApiError>;
    /// Moves funding `id` from pending to how it ended. False: it was not pending.
    fn finish_funding(
        &self,
        id: FundingId,
        outcome: &Outcome,
        at: TimestampMs,
    ) -> Result<bool, ApiError>;
    /// Records that `provider`'s event `event_id` was applied to `funding`. False: it had
    /// been, and nothing is recorded.
    fn record_provider_event(
        &self,
        provider: &str,
        event_id: &str,
        funding: FundingId,
        status: FundingStatus,
        at: TimestampMs,
    ) -> Result<bool, ApiError>;
    /// `user`'s newest `limit` fundings, newest first.
    fn fundings_of(&self, user: UserId, limit: u32) -> Result<Vec<Funding>, ApiError>;
    /// Up to `limit` pending fundings after id `after`, oldest first.
    fn pending_fundings(&self, after: FundingId, limit: u32) -> Result<Vec<FundingId>, ApiError>;
}

/// The columns `FundingRow::read` reads, in order.
pub(super) const FUNDING_COLUMNS: &str = "id, kind, provider, amount_minor, currency, status, \
     reason, checkout_url, bank_account, transfer_id, created_at_ms, updated_at_ms, user_id, \
     provider_ref, idempotency_key, fingerprint";

/// A `fundings` row as read, before its strings are checked.
pub(crate) struct FundingRow {
    pub(super) id: i64,
    pub(super) kind: String,
    pub(super) provider: String,
    pub(super) amount: i64,
    pub(super) currency: String,
    pub(super) status: String,
    pub(super) reason: String,
    pub(super) checkout_url: Option<String>,
    pub(super) bank_account: Option<String>,
    pub(super) transfer: Option<i64>,
    pub(super) created: i64,
    pub(super) updated: i64,
    pub(super) user: i64,
    pub(super) reference: Option<String>,
    pub(super) key: String,
    pub(super) fingerprint: String,
}

impl FundingRow {
    pub(super) fn into_stored(self) -> Result<StoredFunding, ApiError> {
        let kind = FundingKind::parse(&self.kind).ok_or_else(|| corrupt("kind", &self.kind))?;
        let status =
            FundingStatus::parse(&self.status).ok_or_else(|| corrupt("status", &self.status))?;
        Ok(StoredFunding {
            funding: Funding {
                id: FundingId(self.id),
                kind,
                provider: self.provider,
                amount: Money::new(self.amount, currency_of(&self.currency)?),
                status,
                reason: self.reason,
                checkout_url: self.checkout_url,
                bank_account: self.bank_account.as_deref().map(masked_account),
                transfer_id: self.transfer.map(TransferId),
                created_at: TimestampMs(self.created),
                updated_at: TimestampMs(self.updated),
            },
            user: UserId(self.user),
            provider_ref: self.reference,
            bank_account: self.bank_account,
            key: IdempotencyKey(self.key),
            fingerprint: self.fingerprint,
        })
    }
}

fn corrupt(what: &str, stored: &str) -> ApiError {
    tracing::error!(what, stored, "unknown funding value in the store");
    ApiError::internal()
}
