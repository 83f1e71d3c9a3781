//! `Fundings` on SQLite: the same contract as PostgreSQL's.

use crate::protocol::funding::{Funding, FundingId, FundingStatus};
use crate::protocol::payments::IdempotencyKey;
use crate::protocol::{ApiError, TimestampMs, UserId};
use crate::store::funding::{FUNDING_COLUMNS, FundingRow, NewFunding, Outcome, StoredFunding};
use crate::store::{Cached, Fundings};
use rusqlite::{Connection, OptionalExtension};

impl Fundings for Connection {
    fn insert_funding(&self, funding: &NewFunding, at: TimestampMs) -> Result<FundingId, ApiError> {
        self.execute_cached(
            "INSERT INTO fundings (kind, user_id, provider, amount_minor, currency, status,
                 bank_account, idempotency_key, fingerprint, transfer_id, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9, ?10, ?10)",
            rusqlite::params![
                funding.kind.as_str(),
                funding.user.0,
                funding.provider,
                funding.amount.amount_minor,
                funding.amount.currency.code(),
                funding.bank_account,
                funding.key.0,
                funding.fingerprint,
                funding.transfer.map(|t| t.0),
                at.0
            ],
        )?;
        Ok(FundingId(self.last_insert_rowid()))
    }

    fn funding(&self, id: FundingId) -> Result<StoredFunding, ApiError> {
        self.query_row_cached(
            &format!("SELECT {FUNDING_COLUMNS} FROM fundings WHERE id = ?1"),
            [id.0],
            funding_row,
        )?
        .into_stored()
    }

    fn funding_by_key(
        &self,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<FundingId>, ApiError> {
        let id = self
            .query_row_cached(
                "SELECT id FROM fundings WHERE user_id = ?1 AND idempotency_key = ?2",
                rusqlite::params![user.0, key.0],
                |row| row.get(0),
            )
            .optional()?;
        Ok(id.map(FundingId))
    }

    fn funding_by_reference(
        &self,
        provider: &str,
        reference: &str,
    ) -> Result<Option<FundingId>, ApiError> {
        let id = self
            .query_row_cached(
                "SELECT id FROM fundings WHERE provider = ?1 AND provider_ref = ?2",
                [provider, reference],
                |row| row.get(0),
            )
            .optional()?;
        Ok(id.map(FundingId))
    }

    fn set_funding_reference(
        &self,
        id: FundingId,
        reference: &str,
        checkout_url: Option<&str>,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.execute_cached(
            "UPDATE fundings SET provider_ref = ?2, checkout_url = ?3, updated_at_ms = ?4
             WHERE id = ?1 AND provider_ref IS NULL",
            rusqlite::params![id.0, reference, checkout_url, at.0],
        )?;
        Ok(changed == 1)
    }

    fn finish_funding(
        &self,
        id: FundingId,
        outcome: &Outcome,
        at: TimestampMs,
    ) -> Result<bool, ApiError> {
        let changed = self.execute_cached(
            "UPDATE fundings SET status = ?2, reason = ?3,
                 transfer_id = COALESCE(?4, transfer_id), return_transfer_id = ?5, updated_at_ms = ?6
             WHERE id = ?1 AND status = 'pending'",
            rusqlite::params![
                id.0,
                outcome.status.as_str(),
                outcome.reason,
                outcome.transfer.map(|t| t.0),
                outcome.return_transfer.map(|t| t.0),
                at.0
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
        let inserted = self.execute_cached(
            "INSERT INTO provider_events (provider, event_id, funding_id, status, received_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (provider, event_id) DO NOTHING",
            rusqlite::params![provider, event_id, funding.0, status.as_str(), at.0],
        )?;
        Ok(inserted == 1)
    }

    fn fundings_of(&self, user: UserId, limit: u32) -> Result<Vec<Funding>, ApiError> {
        let mut statement = self.prepare_cached(&format!(
            "SELECT {FUNDING_COLUMNS} FROM fundings WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = statement
            .query_map(rusqlite::params![user.0, limit], funding_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|row| Ok(row.into_stored()?.funding))
            .collect()
    }

    fn pending_fundings(&self, after: FundingId, limit: u32) -> Result<Vec<FundingId>, ApiError> {
        let mut statement = self.prepare_cached(
            "SELECT id FROM fundings WHERE status = 'pending' AND id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let ids = statement
            .query_map(rusqlite::params![after.0, limit], |row| row.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(ids.into_iter().map(FundingId).collect())
    }
}

pub(crate) fn funding_row(row: &rusqlite::Row) -> rusqlite::Result<FundingRow> {
    Ok(FundingRow {
        id: row.get(0)?,
        kind: row.get(1)?,
        provider: row.get(2)?,
        amount: row.get(3)?,
        currency: row.get(4)?,
        status: row.get(5)?,
        reason: row.get(6)?,
        checkout_url: row.get(7)?,
        bank_account: row.get(8)?,
        transfer: row.get(9)?,
        created: row.get(10)?,
        updated: row.get(11)?,
        user: row.get(12)?,
        reference: row.get(13)?,
        key: row.get(14)?,
        fingerprint: row.get(15)?,
    })
}
