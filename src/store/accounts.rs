//! Users: accounts, bots, passwords and payment PINs (their hashes and the PIN lock). Tokens
//! and sessions are in `sessions.rs`.

use super::writer::WriteCtx;
use crate::protocol::{ApiError, ErrorCode, TimestampMs, User, UserId};
use crate::store::Cached;
use rusqlite::{Connection, OptionalExtension};

/// The columns [`user_from_row`] reads, from a `users` table aliased `u`.
pub const USER_COLUMNS: &str = "u.id, u.username, u.is_bot, u.merchant_name";

/// A user from four consecutive columns starting at `first`, as [`USER_COLUMNS`] lists them.
pub fn user_from_row(row: &rusqlite::Row, first: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(row.get(first)?),
        username: row.get(first + 1)?,
        bot: row.get(first + 2)?,
        merchant: row.get(first + 3)?,
    })
}

use crate::protocol::accounts::{validate_merchant_name, validate_username};

/// Creates a user whose password is already hashed (hashing is slow; it happens before the writer).
pub fn create_user(
    ctx: &mut WriteCtx,
    username: &str,
    password_hash: &str,
) -> Result<User, ApiError> {
    validate_username(username)?;
    let Some(id) = ctx.db().insert_user(username, password_hash, ctx.now)? else {
        return Err(ApiError::new(
            ErrorCode::UsernameTaken,
            format!("username {username:?} is already registered"),
        ));
    };
    Ok(User::new(id, username.to_owned()))
}

/// Creates a bot account. It has no usable password: it logs in with the token made for it.
/// A merchant bot carries its business's display name.
pub fn create_bot(
    ctx: &mut WriteCtx,
    username: &str,
    merchant: Option<&str>,
) -> Result<User, ApiError> {
    if let Some(name) = merchant {
        validate_merchant_name(name)?;
    }
    // "!" is no PHC string: no password ever verifies against it.
    let mut user = create_user(ctx, username, "!")?;
    ctx.db().mark_bot(user.id, merchant)?;
    user.bot = true;
    user.merchant = merchant.map(str::to_owned);
    Ok(user)
}

/// Wrong PINs in a row that lock payments.
pub const PIN_ATTEMPTS: i64 = 5;
/// How long payments stay locked after that.
pub const PIN_LOCK_MS: i64 = 15 * 60 * 1000;

/// Counts a PIN attempt before it is checked, so guesses sent at once cannot outrun the lock:
/// between a right PIN and a lock at most `PIN_ATTEMPTS` are let through. `None`: no attempt
/// is left now (payments are locked, or the last ones are still being checked).
pub fn admit_pin_attempt(ctx: &mut WriteCtx, user_id: UserId) -> Result<Option<i64>, ApiError> {
    ctx.db().count_pin_attempt(user_id, PIN_ATTEMPTS, ctx.now)
}

/// An admitted attempt was wrong: it stays counted, and once every attempt is used up payments
/// lock for `PIN_LOCK_MS`. Returns the attempts left (0: locked).
pub fn settle_wrong_pin(ctx: &mut WriteCtx, user_id: UserId) -> Result<i64, ApiError> {
    let (failures, locked_until) = ctx.db().pin_failures(user_id)?;
    if locked_until.is_some_and(|until| until > ctx.now) {
        return Ok(0);
    }
    if failures >= PIN_ATTEMPTS {
        ctx.db()
            .lock_pin(user_id, TimestampMs(ctx.now.0 + PIN_LOCK_MS))?;
        return Ok(0);
    }
    Ok(PIN_ATTEMPTS - failures)
}

/// Users' rows: who is registered, their password and PIN hashes, their PIN lock.
pub trait Users {
    /// Registers `username` at `at`; its id, or `None` when the name is taken.
    fn insert_user(
        &self,
        username: &str,
        password_hash: &str,
        at: TimestampMs,
    ) -> Result<Option<UserId>, ApiError>;

    /// Marks `user` a bot, a merchant's when `merchant` names the business.
    fn mark_bot(&self, user: UserId, merchant: Option<&str>) -> Result<(), ApiError>;

    /// Counts one more PIN attempt unless `attempts` are counted already or payments are
    /// locked at `now`; the count, or `None` when no attempt is left.
    fn count_pin_attempt(
        &self,
        user: UserId,
        attempts: i64,
        now: TimestampMs,
    ) -> Result<Option<i64>, ApiError>;

    /// The PIN attempts counted for `user`, and until when payments are locked, if ever.
    fn pin_failures(&self, user: UserId) -> Result<(i64, Option<TimestampMs>), ApiError>;

    /// Locks `user`'s payments until `until` and starts the count of attempts afresh.
    fn lock_pin(&self, user: UserId, until: TimestampMs) -> Result<(), ApiError>;

    /// Forgets `user`'s counted PIN attempts (a right PIN was given).
    fn clear_pin_failures(&self, user: UserId) -> Result<(), ApiError>;

    /// Sets `user`'s PIN hash.
    fn set_pin_hash(&self, user: UserId, hash: &str) -> Result<(), ApiError>;

    /// The user and stored password hash for `username`, if registered.
    fn credentials(&self, username: &str) -> Result<Option<(User, String)>, ApiError>;

    /// The user registered as `username`; `not_found` when there is none.
    fn user_by_name(&self, username: &str) -> Result<User, ApiError>;

    /// The argon2 hash of `user_id`'s payment PIN, if one is set.
    fn pin_hash(&self, user_id: UserId) -> Result<Option<String>, ApiError>;

    /// Until when `user_id`'s payments are locked after wrong PINs, if they are now.
    fn pin_locked_until(&self, user_id: UserId, now_ms: i64) -> Result<Option<i64>, ApiError>;
}

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

    fn pin_failures(&self, user: UserId) -> Result<(i64, Option<TimestampMs>), ApiError> {
        let (failures, until): (i64, Option<i64>) = self.query_row_cached(
            "SELECT pin_failures, pin_locked_until_ms FROM users WHERE id = ?1",
            [user.0],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok((failures, until.map(TimestampMs)))
    }

    fn lock_pin(&self, user: UserId, until: TimestampMs) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE users SET pin_failures = 0, pin_locked_until_ms = ?2 WHERE id = ?1",
            [user.0, until.0],
        )?;
        Ok(())
    }

    fn clear_pin_failures(&self, user: UserId) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE users SET pin_failures = 0 WHERE id = ?1 AND pin_failures > 0",
            [user.0],
        )?;
        Ok(())
    }

    fn set_pin_hash(&self, user: UserId, hash: &str) -> Result<(), ApiError> {
        self.execute_cached(
            "UPDATE users SET pin_hash = ?2 WHERE id = ?1",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_documented_rules() {
        for good in ["al", "alice", "bob_2", "a1234567890123456789012345678901"] {
            assert!(validate_username(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "Alice",
            "1bob",
            "_x",
            "al ice",
            "ålice",
            &"a".repeat(33),
        ] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }
}
