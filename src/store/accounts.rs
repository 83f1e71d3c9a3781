//! Users and session tokens.

use super::writer::WriteCtx;
use crate::protocol::{ApiError, ErrorCode, User, UserId};
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

pub const USERNAME_RULES: &str =
    "2 to 32 characters: lowercase letters a-z, digits and '_', starting with a letter";
pub const MIN_PASSWORD_BYTES: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;

pub fn validate_username(username: &str) -> Result<(), ApiError> {
    let starts_with_letter = username.starts_with(|c: char| c.is_ascii_lowercase());
    let allowed = username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if (2..=32).contains(&username.len()) && starts_with_letter && allowed {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "username {username:?} is not valid: {USERNAME_RULES}"
        )))
    }
}

pub fn validate_password(password: &str) -> Result<(), ApiError> {
    if (MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&password.len()) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "password must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes long"
        )))
    }
}

/// Creates a user whose password is already hashed (hashing is slow; it happens before the writer).
pub fn create_user(
    ctx: &mut WriteCtx,
    username: &str,
    password_hash: &str,
) -> Result<User, ApiError> {
    validate_username(username)?;
    let inserted = ctx.conn.execute(
        "INSERT INTO users (username, password_hash, created_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (username) DO NOTHING",
        rusqlite::params![username, password_hash, super::now_ms()],
    )?;
    if inserted == 0 {
        return Err(ApiError::new(
            ErrorCode::UsernameTaken,
            format!("username {username:?} is already registered"),
        ));
    }
    Ok(User::new(
        UserId(ctx.conn.last_insert_rowid()),
        username.to_owned(),
    ))
}

/// Creates a bot account. It has no usable password: it logs in with the token made for it.
/// A merchant bot carries its business's display name.
pub fn create_bot(
    ctx: &mut WriteCtx,
    username: &str,
    merchant: Option<&str>,
) -> Result<User, ApiError> {
    if let Some(name) = merchant
        && (name.trim().is_empty()
            || name.chars().count() > 64
            || name.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(format!(
            "merchant name {name:?} must be 1 to 64 characters"
        )));
    }
    // "!" is no PHC string: no password ever verifies against it.
    let mut user = create_user(ctx, username, "!")?;
    ctx.conn.execute(
        "UPDATE users SET is_bot = 1, merchant_name = ?2 WHERE id = ?1",
        rusqlite::params![user.id.0, merchant],
    )?;
    user.bot = true;
    user.merchant = merchant.map(str::to_owned);
    Ok(user)
}

/// The user and stored password hash for `username`, if registered.
pub fn credentials(conn: &Connection, username: &str) -> Result<Option<(User, String)>, ApiError> {
    let sql = format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = ?1");
    let found = conn
        .query_row(&sql, [username], |row| {
            Ok((user_from_row(row, 0)?, row.get(4)?))
        })
        .optional()?;
    Ok(found)
}

pub fn user_by_name(conn: &Connection, username: &str) -> Result<User, ApiError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?1");
    conn.query_row(&sql, [username], |row| user_from_row(row, 0))
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("no user named {username:?}")))
}

pub fn insert_token(ctx: &mut WriteCtx, token_hash: &str, user_id: UserId) -> Result<(), ApiError> {
    ctx.conn.execute(
        "INSERT INTO tokens (token_hash, user_id, created_at_ms) VALUES (?1, ?2, ?3)",
        rusqlite::params![token_hash, user_id.0, super::now_ms()],
    )?;
    Ok(())
}

/// Revocations older than this are pruned: every server has long since read them.
const KEEP_REVOCATIONS_MS: i64 = 24 * 60 * 60 * 1000;

/// Deletes a token and logs its revocation, so every server closes its live connections.
/// Returns whether the token existed.
pub fn revoke_token(ctx: &mut WriteCtx, token_hash: &str) -> Result<bool, ApiError> {
    let deleted = ctx
        .conn
        .execute("DELETE FROM tokens WHERE token_hash = ?1", [token_hash])?;
    if deleted > 0 {
        let now = super::now_ms();
        ctx.conn.execute(
            "INSERT INTO token_revocations (token_hash, revoked_at_ms) VALUES (?1, ?2)",
            rusqlite::params![token_hash, now],
        )?;
        ctx.conn.execute(
            "DELETE FROM token_revocations WHERE revoked_at_ms < ?1",
            [now - KEEP_REVOCATIONS_MS],
        )?;
    }
    Ok(deleted > 0)
}

/// Revokes every token of `user_id`; returns how many there were.
pub fn revoke_all_tokens(ctx: &mut WriteCtx, user_id: UserId) -> Result<usize, ApiError> {
    let hashes = token_hashes_of(ctx.conn, user_id)?;
    for hash in &hashes {
        revoke_token(ctx, hash)?;
    }
    Ok(hashes.len())
}

fn token_hashes_of(conn: &Connection, user_id: UserId) -> Result<Vec<String>, ApiError> {
    let mut statement = conn.prepare("SELECT token_hash FROM tokens WHERE user_id = ?1")?;
    let hashes = statement
        .query_map([user_id.0], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(hashes)
}

/// The id of the newest logged revocation (0 when none).
pub fn last_revocation(conn: &Connection) -> Result<i64, ApiError> {
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(id), 0) FROM token_revocations",
        [],
        |row| row.get(0),
    )?)
}

/// Revocations logged after `after`, oldest first, as (id, token hash); at most 1,000.
pub fn revocations_after(conn: &Connection, after: i64) -> Result<Vec<(i64, String)>, ApiError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, token_hash FROM token_revocations WHERE id > ?1 ORDER BY id LIMIT 1000",
    )?;
    let rows = statement
        .query_map([after], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Records that a token was just used to connect, and from where. False: no such token
/// (revoked meanwhile).
pub fn touch_token(ctx: &mut WriteCtx, token_hash: &str, address: &str) -> Result<bool, ApiError> {
    let updated = ctx.conn.execute(
        "UPDATE tokens SET last_used_at_ms = ?2, last_address = ?3 WHERE token_hash = ?1",
        rusqlite::params![token_hash, super::now_ms(), address],
    )?;
    Ok(updated > 0)
}

/// Hex digits of a token's hash that name its session to its user.
pub const SESSION_ID_CHARS: usize = 12;

/// `user_id`'s sessions, most recently used first; `current_hash` marks the asker's own.
pub fn sessions_of(
    conn: &Connection,
    user_id: UserId,
    current_hash: Option<&str>,
) -> Result<Vec<crate::protocol::results::SessionInfo>, ApiError> {
    use crate::protocol::TimestampMs;
    let mut statement = conn.prepare(
        "SELECT token_hash, created_at_ms, last_used_at_ms, last_address FROM tokens
         WHERE user_id = ?1 ORDER BY COALESCE(last_used_at_ms, created_at_ms) DESC",
    )?;
    let sessions = statement
        .query_map([user_id.0], |row| {
            let hash: String = row.get(0)?;
            Ok(crate::protocol::results::SessionInfo {
                id: hash[..SESSION_ID_CHARS.min(hash.len())].to_owned(),
                current: current_hash == Some(hash.as_str()),
                created_at: TimestampMs(row.get(1)?),
                last_used_at: row.get::<_, Option<i64>>(2)?.map(TimestampMs),
                last_address: row.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(sessions)
}

/// The full hash of `user_id`'s session named `id` (a prefix from [`sessions_of`]).
pub fn session_hash(conn: &Connection, user_id: UserId, id: &str) -> Result<String, ApiError> {
    let not_found = || ApiError::not_found(format!("you have no session {id:?}; see `sessions`"));
    if id.len() != SESSION_ID_CHARS || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    token_hashes_of(conn, user_id)?
        .into_iter()
        .find(|hash| hash.starts_with(id))
        .ok_or_else(not_found)
}

pub fn user_for_token(conn: &Connection, token_hash: &str) -> Result<Option<User>, ApiError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1"
    );
    Ok(conn
        .query_row(&sql, [token_hash], |row| user_from_row(row, 0))
        .optional()?)
}

/// The argon2 hash of `user_id`'s payment PIN, if one is set.
pub fn pin_hash(conn: &Connection, user_id: UserId) -> Result<Option<String>, ApiError> {
    Ok(conn.query_row(
        "SELECT pin_hash FROM users WHERE id = ?1",
        [user_id.0],
        |row| row.get(0),
    )?)
}

/// Wrong PINs in a row that lock payments.
pub const PIN_ATTEMPTS: i64 = 5;
/// How long payments stay locked after that.
pub const PIN_LOCK_MS: i64 = 15 * 60 * 1000;

/// Until when `user_id`'s payments are locked after wrong PINs, if they are now.
pub fn pin_locked_until(
    conn: &Connection,
    user_id: UserId,
    now_ms: i64,
) -> Result<Option<i64>, ApiError> {
    let until: Option<i64> = conn.query_row(
        "SELECT pin_locked_until_ms FROM users WHERE id = ?1",
        [user_id.0],
        |row| row.get(0),
    )?;
    Ok(until.filter(|&until| until > now_ms))
}

/// Counts a PIN attempt before it is checked, so guesses sent at once cannot outrun the lock:
/// between a right PIN and a lock at most `PIN_ATTEMPTS` are let through. `None`: no attempt
/// is left now (payments are locked, or the last ones are still being checked).
pub fn admit_pin_attempt(
    ctx: &mut WriteCtx,
    user_id: UserId,
    now_ms: i64,
) -> Result<Option<i64>, ApiError> {
    Ok(ctx
        .conn
        .query_row(
            "UPDATE users SET pin_failures = pin_failures + 1
             WHERE id = ?1 AND pin_failures < ?2
               AND (pin_locked_until_ms IS NULL OR pin_locked_until_ms <= ?3)
             RETURNING pin_failures",
            [user_id.0, PIN_ATTEMPTS, now_ms],
            |row| row.get(0),
        )
        .optional()?)
}

/// An admitted attempt was wrong: it stays counted, and once every attempt is used up payments
/// lock for `PIN_LOCK_MS`. Returns the attempts left (0: locked).
pub fn settle_wrong_pin(ctx: &mut WriteCtx, user_id: UserId, now_ms: i64) -> Result<i64, ApiError> {
    let (failures, locked_until): (i64, Option<i64>) = ctx.conn.query_row(
        "SELECT pin_failures, pin_locked_until_ms FROM users WHERE id = ?1",
        [user_id.0],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if locked_until.is_some_and(|until| until > now_ms) {
        return Ok(0);
    }
    if failures >= PIN_ATTEMPTS {
        ctx.conn.execute(
            "UPDATE users SET pin_failures = 0, pin_locked_until_ms = ?2 WHERE id = ?1",
            [user_id.0, now_ms + PIN_LOCK_MS],
        )?;
        return Ok(0);
    }
    Ok(PIN_ATTEMPTS - failures)
}

/// A right PIN clears the count of wrong ones.
pub fn clear_pin_failures(ctx: &mut WriteCtx, user_id: UserId) -> Result<(), ApiError> {
    ctx.conn.execute(
        "UPDATE users SET pin_failures = 0 WHERE id = ?1 AND pin_failures > 0",
        [user_id.0],
    )?;
    Ok(())
}

pub fn set_pin_hash(ctx: &mut WriteCtx, user_id: UserId, hash: &str) -> Result<(), ApiError> {
    ctx.conn.execute(
        "UPDATE users SET pin_hash = ?2 WHERE id = ?1",
        rusqlite::params![user_id.0, hash],
    )?;
    Ok(())
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
