//! Spending limits, set on the server: per transfer and per day (UTC), per currency.
//! A currency without a limit has none.

use crate::money::Money;
use crate::protocol::{ApiError, ErrorCode, TimestampMs};
use crate::store::wallets::{AccountId, Wallets};

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
        store: &dyn Wallets,
        wallet: AccountId,
        amount: Money,
        now: TimestampMs,
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
            let day_start = TimestampMs(now.0 - now.0.rem_euclid(DAY_MS));
            let spent = store.paid_out_since(wallet, day_start)?;
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
