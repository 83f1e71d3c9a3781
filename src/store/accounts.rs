//! Users: accounts, bots, passwords and payment PINs (their hashes and the PIN lock). Tokens
//! and sessions are in `sessions.rs`.

use super::writer::WriteCtx;
use crate::protocol::{ApiError, ErrorCode, TimestampMs, User, UserId};

/// The columns [`user_from_row`] reads, from a `users` table aliased `u`.
pub const USER_COLUMNS: &str = "u.id, u.username, u.is_bot, u.merchant_name";

use crate::protocol::accounts::{validate_merchant_name, validate_username};

/// Creates a user whose password is already hashed (hashing is slow; it happens before the writer).
pub fn create_user(
    ctx: &mut WriteCtx,
    username: &str,
    password_hash: &str,
) -> Result<User, ApiError> {
    validate_username(username)?;
    let Some(id) = ctx.db().insert_user(username, password_hash, ctx.now())? else {
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
/// How long payments stay locked after the first, second and third lock in a row (no right
/// PIN between them); after that they stay locked until a new PIN is set with the password.
pub const PIN_LOCKS_MS: [i64; 3] = [15 * 60 * 1000, 60 * 60 * 1000, 24 * 60 * 60 * 1000];
/// `pin_locked_until` of a lock only a new PIN, set with the password, lifts.
pub const LOCKED_UNTIL_NEW_PIN: TimestampMs = TimestampMs(i64::MAX);

/// Where a user's PIN lock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinState {
    /// Attempts counted since the last right PIN or lock.
    pub failures: i64,
    /// Until when payments are locked, if they ever were.
    pub locked_until: Option<TimestampMs>,
    /// Locks in a row since the last right PIN.
    pub locks: i64,
}

/// What a wrong PIN led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongPin {
    /// This many attempts are left before payments lock.
    Left(i64),
    /// Payments are locked until then (`LOCKED_UNTIL_NEW_PIN`: until a new PIN is set).
    Locked(TimestampMs),
}

/// Counts a PIN attempt before it is checked, so guesses sent at once cannot outrun the lock:
/// between a right PIN and a lock at most `PIN_ATTEMPTS` are let through. `None`: no attempt
/// is left now (payments are locked, or the last ones are still being checked).
pub fn admit_pin_attempt(ctx: &mut WriteCtx, user_id: UserId) -> Result<Option<i64>, ApiError> {
    ctx.db().count_pin_attempt(user_id, PIN_ATTEMPTS, ctx.now())
}

/// An admitted attempt was wrong: it stays counted, and once every attempt is used up payments
/// lock, each lock in a row longer than the last (`PIN_LOCKS_MS`), then for good.
pub fn settle_wrong_pin(ctx: &mut WriteCtx, user_id: UserId) -> Result<WrongPin, ApiError> {
    let state = ctx.db().pin_state(user_id)?;
    if let Some(until) = state.locked_until.filter(|until| *until > ctx.now()) {
        return Ok(WrongPin::Locked(until));
    }
    if state.failures < PIN_ATTEMPTS {
        return Ok(WrongPin::Left(PIN_ATTEMPTS - state.failures));
    }
    let until = usize::try_from(state.locks)
        .ok()
        .and_then(|locks| PIN_LOCKS_MS.get(locks))
        .map_or(LOCKED_UNTIL_NEW_PIN, |ms| TimestampMs(ctx.now().0 + ms));
    ctx.db().lock_pin(user_id, until)?;
    Ok(WrongPin::Locked(until))
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

    /// Where `user`'s PIN lock stands: attempts counted, until when locked, locks in a row.
    fn pin_state(&self, user: UserId) -> Result<PinState, ApiError>;

    /// Locks `user`'s payments until `until`, counts the lock, and starts the count of
    /// attempts afresh.
    fn lock_pin(&self, user: UserId, until: TimestampMs) -> Result<(), ApiError>;

    /// Forgets `user`'s counted PIN attempts and locks (a right PIN was given).
    fn clear_pin_failures(&self, user: UserId) -> Result<(), ApiError>;

    /// Sets `user`'s PIN hash, with no attempt, lock or lock count left over.
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
