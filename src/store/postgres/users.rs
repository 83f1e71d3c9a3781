//! `Users`, `Health` and `Audit` on PostgreSQL: the same contracts as SQLite's.

use super::PgTx;
use crate::protocol::{ApiError, TimestampMs, User, UserId};
use crate::store::Health;
use crate::store::accounts::{PinState, USER_COLUMNS, Users};
use crate::store::audit::{Audit, CHECKS, Finding, LedgerTotals};

/// A user from four consecutive columns starting at `first`, as `USER_COLUMNS` lists them.
pub(super) fn user(row: &postgres::Row, first: usize) -> User {
    User {
        id: UserId(row.get(first)),
        username: row.get(first + 1),
        bot: row.get::<_, i32>(first + 2) != 0,
        merchant: row.get(first + 3),
    }
}

impl Users for PgTx<'_> {
    fn insert_user(
        &self,
        username: &str,
        password_hash: &str,
        at: TimestampMs,
    ) -> Result<Option<UserId>, ApiError> {
        let row = self.tx().query_opt(
            "INSERT INTO users (username, password_hash, created_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (username) DO NOTHING RETURNING id",
            &[&username, &password_hash, &at.0],
        )?;
        Ok(row.map(|row| UserId(row.get(0))))
    }

    fn mark_bot(&self, user: UserId, merchant: Option<&str>) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE users SET is_bot = 1, merchant_name = $2 WHERE id = $1",
            &[&user.0, &merchant],
        )?;
        Ok(())
    }

    fn count_pin_attempt(
        &self,
        user: UserId,
        attempts: i64,
        now: TimestampMs,
    ) -> Result<Option<i64>, ApiError> {
        let row = self.tx().query_opt(
            "UPDATE users SET pin_failures = pin_failures + 1
             WHERE id = $1 AND pin_failures < $2
               AND (pin_locked_until_ms IS NULL OR pin_locked_until_ms <= $3)
             RETURNING pin_failures",
            &[&user.0, &attempts, &now.0],
        )?;
        Ok(row.map(|row| row.get(0)))
    }

    fn pin_state(&self, user: UserId) -> Result<PinState, ApiError> {
        let row = self.tx().query_one(
            "SELECT pin_failures, pin_locked_until_ms, pin_locks FROM users WHERE id = $1",
            &[&user.0],
        )?;
        Ok(PinState {
            failures: row.get(0),
            locked_until: row.get::<_, Option<i64>>(1).map(TimestampMs),
            locks: row.get(2),
        })
    }

    fn lock_pin(&self, user: UserId, until: TimestampMs) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE users SET pin_failures = 0, pin_locked_until_ms = $2, pin_locks = pin_locks + 1
             WHERE id = $1",
            &[&user.0, &until.0],
        )?;
        Ok(())
    }

    fn clear_pin_failures(&self, user: UserId) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE users SET pin_failures = 0, pin_locks = 0
             WHERE id = $1 AND (pin_failures > 0 OR pin_locks > 0)",
            &[&user.0],
        )?;
        Ok(())
    }

    fn set_pin_hash(&self, user: UserId, hash: &str) -> Result<(), ApiError> {
        self.tx().execute(
            "UPDATE users SET pin_hash = $2, pin_failures = 0, pin_locks = 0,
                 pin_locked_until_ms = NULL
             WHERE id = $1",
            &[&user.0, &hash],
        )?;
        Ok(())
    }

    fn credentials(&self, username: &str) -> Result<Option<(User, String)>, ApiError> {
        let sql =
            format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = $1");
        let row = self.tx().query_opt(&sql, &[&username])?;
        Ok(row.map(|row| (user(&row, 0), row.get(4))))
    }

    fn user_by_name(&self, username: &str) -> Result<User, ApiError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1");
        self.tx()
            .query_opt(&sql, &[&username])?
            .map(|row| user(&row, 0))
            .ok_or_else(|| ApiError::not_found(format!("no user named {username:?}")))
    }

    fn pin_hash(&self, user_id: UserId) -> Result<Option<String>, ApiError> {
        let row = self
            .tx()
            .query_one("SELECT pin_hash FROM users WHERE id = $1", &[&user_id.0])?;
        Ok(row.get(0))
    }

    fn pin_locked_until(&self, user_id: UserId, now_ms: i64) -> Result<Option<i64>, ApiError> {
        let row = self.tx().query_one(
            "SELECT pin_locked_until_ms FROM users WHERE id = $1",
            &[&user_id.0],
        )?;
        Ok(row.get::<_, Option<i64>>(0).filter(|&until| until > now_ms))
    }
}

impl Health for PgTx<'_> {
    fn ping(&self) -> Result<(), ApiError> {
        self.tx().query_one("SELECT 1", &[])?;
        Ok(())
    }
}

impl Audit for PgTx<'_> {
    fn audit_ledger(&self) -> Result<Vec<Finding>, ApiError> {
        // The audit's queries are standard SQL, the same on both backends.
        let mut tx = self.tx();
        CHECKS
            .iter()
            .map(|(invariant, sql)| {
                let violations = tx.query(sql, &[])?.iter().map(|row| row.get(0)).collect();
                Ok(Finding {
                    invariant,
                    violations,
                })
            })
            .collect()
    }

    fn ledger_totals(&self) -> Result<LedgerTotals, ApiError> {
        let row = self.tx().query_one(
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM transfers),
                    (SELECT COUNT(*) FROM payment_requests), (SELECT COUNT(*) FROM invoices)",
            &[],
        )?;
        Ok(LedgerTotals {
            accounts: row.get(0),
            transfers: row.get(1),
            requests: row.get(2),
            invoices: row.get(3),
        })
    }
}
