//! `Fundings` on PostgreSQL: the same contracts as SQLite's (`store::funding`), read through
//! the same row type so both backends finish a row alike.

use super::PgTx;
use crate::protocol::funding::{Funding, FundingId, FundingStatus};
use crate::protocol::payments::IdempotencyKey;
use crate::protocol::{ApiError, TimestampMs, UserId};
use crate::store::funding::{
    FUNDING_COLUMNS, FundingRow, Fundings, NewFunding, Outcome, StoredFunding,
};

fn funding_row(row: &postgres::Row) -> FundingRow {
    FundingRow {
        id: row.get(0),
        kind: row.get(1),
        provider: row.get(2),
        amount: row.get(3),
        currency: row.get(4),
        status: row.get(5),
        reason: row.get(6),
        checkout_url: row.get(7),
        bank_account: row.get(8),
        transfer: row.get(9),
        created: row.get(10),
        updated: row.get(11),
        user: row.get(12),
        reference: row.get(13),
        key: row.get(14),
        fingerprint: row.get(15),
    }
}

impl Fundings for PgTx<'_> {
    fn insert_funding(&self, funding: &NewFunding, at: TimestampMs) -> Result<FundingId, ApiError> {
        let row = self.tx().query_one(
            "INSERT INTO fundings (kind, user_id, provider, amount_minor, currency, status,
                 bank_account, idempotency_key, fingerprint, transfer_id, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $10) RETURNING id",
            &[
                &funding.kind.as_str(),
                &funding.user.0,
                &funding.provider,
                &funding.amount.amount_minor,
                &funding.amount.currency.code(),
                &funding.bank_account,
                &funding.key.0,
                &funding.fingerprint,
                &funding.transfer.map(|t| t.0),
                &at.0,
            ],
        )?;
        Ok(FundingId(row.get(0)))
    }

    fn funding(&self, id: FundingId) -> Result<StoredFunding, ApiError> {
        let row = self.tx().query_one(
            &format!("SELECT {FUNDING_COLUMNS} FROM fundings WHERE id = $1"),
            &[&id.0],
        )?;
        funding_row(&row).into_stored()
    }

    fn funding_by_key(
        &self,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<FundingId>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id FROM fundings WHERE user_id = $1 AND idempotency_key = $2",
            &[&user.0, &key.0],
        )?;
        Ok(row.map(|row| FundingId(row.get(0))))
    }

    fn funding_by_reference(
        &self,
        provider: &str,
        reference: &str,
    ) -> Result<Option<FundingId>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id FROM fundings WHERE provider = $1 AND provider_ref = $2",
            &[&provider, &reference],
        )?;
        Ok(row.map(|row| FundingId(row.get(0))))
    }

    fn set_funding_reference(
        &self,
        id: FundingId,
        reference: &str,
        checkout_url: Option<&str>,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.tx().execute(
            "UPDATE fundings SET provider_ref = $2, checkout_url = $3, updated_at_ms = $4
             WHERE id = $1 AND provider_ref IS NULL",
            &[&id.0, &reference, &checkout_url, &at.0],
        )?;
        Ok(changed == 1)
    }

    fn finish_funding(
        &self,
        id: FundingId,
        outcome: &Outcome,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.tx().execute(
            "UPDATE fundings SET status = $2, reason = $3,
                 transfer_id = COALESCE($4, transfer_id), return_transfer_id = $5, updated_at_ms = $6
             WHERE id = $1 AND status = 'pending'",
            &[
                &id.0,
                &outcome.status.as_str(),
                &outcome.reason,
                &outcome.transfer.map(|t| t.0),
                &outcome.return_transfer.map(|t| t.0),
                &at.0,
            ],
        )?;
        Ok(changed == 1)
    }

    fn record_provider_event(
        &self,
        provider: &str,
        event_id: &str,
        funding: FundingId,
        status: FundingStatus,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let inserted = self.tx().execute(
            "INSERT INTO provider_events (provider, event_id, funding_id, status, received_at_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, event_id) DO NOTHING",
            &[&provider, &event_id, &funding.0, &status.as_str(), &at.0],
        )?;
        Ok(inserted == 1)
    }

    fn fundings_of(&self, user: UserId, limit: u32) -> Result<Vec<Funding>, ApiError> {
        let rows = self.tx().query(
            &format!(
                "SELECT {FUNDING_COLUMNS} FROM fundings WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
            ),
            &[&user.0, &i64::from(limit)],
        )?;
        rows.iter()
            .map(|row| Ok(funding_row(row).into_stored()?.funding))
            .collect()
    }

    fn pending_fundings(&self, after: FundingId, limit: u32) -> Result<Vec<FundingId>, ApiError> {
        let rows = self.tx().query(
            "SELECT id FROM fundings WHERE status = 'pending' AND id > $1 ORDER BY id LIMIT $2",
            &[&after.0, &i64::from(limit)],
        )?;
        Ok(rows.iter().map(|row| FundingId(row.get(0))).collect())
    }
}
