//! `Users`, `Health` and `Audit` on SQLite: the same contracts as PostgreSQL's.

use crate::protocol::{ApiError, TimestampMs, User, UserId};
use crate::store::accounts::{PinState, USER_COLUMNS};
use crate::store::audit::{CHECKS, Finding, LedgerTotals};
use crate::store::{Audit, Cached, Health, Users};
use rusqlite::{Connection, OptionalExtension};

impl Users for Connection {
    fn insert_user(
        &self,
        username: &str,
        password_hash: &str,
        at: TimestampMs,
    ) -> Result<Option<UserId>, ApiError> {
        let inserted = self.execute_cached(
            "INSERT INTO users (username, password_hash, created_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (username) DO NOTHING",
            rusqlite::params![username, password_hash, at.0],
        )?;
        Ok((inserted == 1).then(|| UserId(self.last_insert_rowid())))
    }

    fn mark_bot(&self, user: UserId, merchant: Option<&str>) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE users SET is_bot = 1, merchant_name = ?2 WHERE id = ?1",
            rusqlite::params![user.0, merchant],
        )?;
        Ok(())
    }

    fn count_pin_attempt(
        &self,
        user: UserId,
        attempts: i64,
        now: TimestampMs,
    ) -> Result<Option<i64>, ApiError> {
        Ok(self
            .query_row_cached(
                "UPDATE users SET pin_failures = pin_failures + 1
                 WHERE id = ?1 AND pin_failures < ?2
                   AND (pin_locked_until_ms IS NULL OR pin_locked_until_ms <= ?3)
                 RETURNING pin_failures",
                [user.0, attempts, now.0],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn pin_state(&self, user: UserId) -> Result<PinState, ApiError> {
        Ok(self.query_row_cached(
            "SELECT pin_failures, pin_locked_until_ms, pin_locks FROM users WHERE id = ?1",
            [user.0],
            |row| {
                Ok(PinState {
                    failures: row.get(0)?,
                    locked_until: row.get::<_, Option<i64>>(1)?.map(TimestampMs),
                    locks: row.get(2)?,
                })
            },
        )?)
    }

    fn lock_pin(&self, user: UserId, until: TimestampMs) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE users SET pin_failures = 0, pin_locked_until_ms = ?2, pin_locks = pin_locks + 1
             WHERE id = ?1",
            [user.0, until.0],
        )?;
        Ok(())
    }

    fn clear_pin_failures(&self, user: UserId) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE users SET pin_failures = 0, pin_locks = 0
             WHERE id = ?1 AND (pin_failures > 0 OR pin_locks > 0)",
            [user.0],
        )?;
        Ok(())
    }

    fn set_pin_hash(&self, user: UserId, hash: &str) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE users SET pin_hash = ?2, pin_failures = 0, pin_locks = 0,
                 pin_locked_until_ms = NULL
             WHERE id = ?1",
            rusqlite::params![user.0, hash],
        )?;
        Ok(())
    }

    fn credentials(&self, username: &str) -> Result<Option<(User, String)>, ApiError> {
        let sql =
            format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = ?1");
        let found = self
            .query_row_cached(&sql, [username], |row| {
                Ok((user_from_row(row, 0)?, row.get(4)?))
            })
            .optional()?;
        Ok(found)
    }

    fn user_by_name(&self, username: &str) -> Result<User, ApiError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?1");
        self.query_row_cached(&sql, [username], |row| user_from_row(row, 0))
            .optional()?
            .ok_or_else(|| ApiError::not_found(format!("no user named {username:?}")))
    }

    fn pin_hash(&self, user_id: UserId) -> Result<Option<String>, ApiError> {
        Ok(self.query_row_cached(
            "SELECT pin_hash FROM users WHERE id = ?1",
            [user_id.0],
            |row| row.get(0),
        )?)
    }

    fn pin_locked_until(&self, user_id: UserId, now_ms: i64) -> Result<Option<i64>, ApiError> {
        let until: Option<i64> = self.query_row_cached(
            "SELECT pin_locked_until_ms FROM users WHERE id = ?1",
            [user_id.0],
            |row| row.get(0),
        )?;
        Ok(until.filter(|&until| until > now_ms))
    }
}

impl Audit for Connection {
    fn audit_ledger(&self) -> Result<Vec<Finding>, ApiError> {
        CHECKS
            .iter()
            .map(|(invariant, sql)| {
                let violations = self
                    .prepare(sql)?
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Finding {
                    invariant,
                    violations,
                })
            })
            .collect()
    }

    fn ledger_totals(&self) -> Result<LedgerTotals, ApiError> {
        Ok(self.query_row_cached(
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM transfers),
                    (SELECT COUNT(*) FROM payment_requests), (SELECT COUNT(*) FROM invoices)",
            [],
            |row| {
                Ok(LedgerTotals {
                    accounts: row.get(0)?,
                    transfers: row.get(1)?,
                    requests: row.get(2)?,
                    invoices: row.get(3)?,
                })
            },
        )?)
    }
}

impl Health for Connection {
    fn ping(&self) -> Result<(), ApiError> {
        self.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?;
        Ok(())
    }
}

/// A user from four consecutive columns starting at `first`, as [`USER_COLUMNS`] lists them.
pub(crate) fn user_from_row(row: &rusqlite::Row, first: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(row.get(first)?),
        username: row.get(first + 1)?,
        bot: row.get(first + 2)?,
        merchant: row.get(first + 3)?,
    })
}
