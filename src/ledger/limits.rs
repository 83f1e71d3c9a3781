//! Spending limits, set on the server: per transfer and per day (UTC), per currency.
//! A currency without a limit has none.

use super::accounts::AccountId;
use crate::money::Money;
use crate::protocol::{ApiError, ErrorCode};
use crate::store::Cached;
use rusqlite::Connection;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub per_transfer: Vec<Money>,
    pub per_day: Vec<Money>,
}

impl Limits {
    /// Refuses `amount` from `wallet` if it is over a limit; the error names the limit.
    pub fn check(
        &self,
        conn: &Connection,
        wallet: AccountId,
        amount: Money,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let limit_of =
            |list: &[Money]| list.iter().find(|m| m.currency == amount.currency).copied();
        if let Some(limit) = limit_of(&self.per_transfer)
            && amount.amount_minor > limit.amount_minor
        {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!("{amount} is over the per-transfer limit of {limit}"),
            ));
        }
        if let Some(limit) = limit_of(&self.per_day) {
            let day_start = now_ms - now_ms.rem_euclid(DAY_MS);
            let spent: i64 = conn.query_row_cached(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM transfers
                 WHERE from_account = ?1 AND created_at_ms >= ?2",
                [wallet.0, day_start],
                |row| row.get(0),
            )?;
            if spent.saturating_add(amount.amount_minor) > limit.amount_minor {
                return Err(ApiError::new(
                    ErrorCode::LimitExceeded,
                    format!(
                        "{amount} would take today's payments to {}, over the daily limit of {limit}",
                        Money::new(spent.saturating_add(amount.amount_minor), amount.currency)
                    ),
                ));
            }
        }
        Ok(())
    }
}
