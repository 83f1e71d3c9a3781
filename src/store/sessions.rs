//! Sessions: the tokens `register` and `login` hand out (stored only as SHA-256), when and
//! where each was last used, and the log of revoked tokens that every server process follows
//! to close their live connections (`server/revocation.rs`).

use super::accounts::{USER_COLUMNS, user_from_row};
use super::writer::WriteCtx;
use crate::protocol::{ApiError, TimestampMs, User, UserId};
use crate::store::Cached;
use rusqlite::{Connection, OptionalExtension};

/// Stores a new token (by its hash) for `user_id`.
pub fn insert_token(ctx: &mut WriteCtx, token_hash: &str, user_id: UserId) -> Result<(), ApiError> {
    ctx.db().insert_token(token_hash, user_id, ctx.now)
}

/// Revocations older than this are pruned: every server has long since read them.
const KEEP_REVOCATIONS_MS: i64 = 24 * 60 * 60 * 1000;

/// Deletes a token and logs its revocation, so every server closes its live connections.
/// Returns whether the token existed.
pub fn revoke_token(ctx: &mut WriteCtx, token_hash: &str) -> Result<bool, ApiError> {
    if !ctx.db().delete_token(token_hash)? {
        return Ok(false);
    }
    let forget_before = TimestampMs(ctx.now.0 - KEEP_REVOCATIONS_MS);
    ctx.db()
        .log_revocation(token_hash, ctx.now, forget_before)?;
    Ok(true)
}

/// Revokes every token of `user_id`; returns how many there were.
pub fn revoke_all_tokens(ctx: &mut WriteCtx, user_id: UserId) -> Result<usize, ApiError> {
    let hashes = ctx.db().token_hashes_of(user_id)?;
    for hash in &hashes {
        revoke_token(ctx, hash)?;
    }
    Ok(hashes.len())
}

/// Records that a token was just used to connect, and from where. False: no such token
/// (revoked meanwhile).
pub fn touch_token(ctx: &mut WriteCtx, token_hash: &str, address: &str) -> Result<bool, ApiError> {
    ctx.db().touch_token(token_hash, ctx.now, address)
}

/// Hex digits of a token's hash that name its session to its user.
pub const SESSION_ID_CHARS: usize = 12;

/// Tokens (sessions) and the log of revoked ones.
pub trait Sessions {
    /// Stores a token (by its hash) for `user`, made at `at`.
    fn insert_token(&self, token_hash: &str, user: UserId, at: TimestampMs)
    -> Result<(), ApiError>;

    /// Deletes a token; whether it existed.
    fn delete_token(&self, token_hash: &str) -> Result<bool, ApiError>;

    /// Logs a token's revocation at `at`, and forgets revocations logged before `forget_before`.
    fn log_revocation(
        &self,
        token_hash: &str,
        at: TimestampMs,
        forget_before: TimestampMs,
    ) -> Result<(), ApiError>;

    /// The hashes of every token of `user`.
    fn token_hashes_of(&self, user: UserId) -> Result<Vec<String>, ApiError>;

    /// Records that a token was used at `at` from `address`; false when there is no such token.
    fn touch_token(
        &self,
        token_hash: &str,
        at: TimestampMs,
        address: &str,
    ) -> Result<bool, ApiError>;

    /// The id of the newest logged revocation (0 when none).
    fn last_revocation(&self) -> Result<i64, ApiError>;

    /// Revocations logged after `after`, oldest first, as (id, token hash); at most 1,000.
    fn revocations_after(&self, after: i64) -> Result<Vec<(i64, String)>, ApiError>;

    /// `user_id`'s sessions, most recently used first; `current_hash` marks the asker's own.
    fn sessions_of(
        &self,
        user_id: UserId,
        current_hash: Option<&str>,
    ) -> Result<Vec<crate::protocol::results::SessionInfo>, ApiError>;

    /// The full hash of `user_id`'s session named `id` (a prefix from `sessions_of`).
    fn session_hash(&self, user_id: UserId, id: &str) -> Result<String, ApiError> {
        let not_found =
            || ApiError::not_found(format!("you have no session {id:?}; see `sessions`"));
        if id.len() != SESSION_ID_CHARS || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        self.token_hashes_of(user_id)?
            .into_iter()
            .find(|hash| hash.starts_with(id))
            .ok_or_else(not_found)
    }

    /// The user a live token (by its hash) belongs to, and when it was last used to connect
    /// (made, if never); `None` for an unknown or revoked one.
    fn user_for_token(&self, token_hash: &str) -> Result<Option<(User, TimestampMs)>, ApiError>;
}

impl Sessions for Connection {
    fn insert_token(
        &self,
        token_hash: &str,
        user: UserId,
        at: TimestampMs,
    ) -> Result<(), ApiError> {
        self.execute_cached(
            "INSERT INTO tokens (token_hash, user_id, created_at_ms) VALUES (?1, ?2, ?3)",
            rusqlite::params![token_hash, user.0, at.0],
        )?;
        Ok(())
    }

    fn delete_token(&self, token_hash: &str) -> Result<bool, ApiError> {
        let deleted =
            self.execute_cached("DELETE FROM tokens WHERE token_hash = ?1", [token_hash])?;
        Ok(deleted > 0)
    }

    fn log_revocation(
        &self,
        token_hash: &str,
        at: TimestampMs,
        forget_before: TimestampMs,
    ) -> Result<(), ApiError> {
        self.execute_cached(
            "INSERT INTO token_revocations (token_hash, revoked_at_ms) VALUES (?1, ?2)",
            rusqlite::params![token_hash, at.0],
        )?;
        self.execute_cached(
            "DELETE FROM token_revocations WHERE revoked_at_ms < ?1",
            [forget_before.0],
        )?;
        Ok(())
    }

    fn token_hashes_of(&self, user: UserId) -> Result<Vec<String>, ApiError> {
        let mut statement =
            self.prepare_cached("SELECT token_hash FROM tokens WHERE user_id = ?1")?;
        let hashes = statement
            .query_map([user.0], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(hashes)
    }

    fn touch_token(
        &self,
        token_hash: &str,
        at: TimestampMs,
        address: &str,
    ) -> Result<bool, ApiError> {
        let updated = self.execute_cached(
            "UPDATE tokens SET last_used_at_ms = ?2, last_address = ?3 WHERE token_hash = ?1",
            rusqlite::params![token_hash, at.0, address],
        )?;
        Ok(updated > 0)
    }

    fn last_revocation(&self) -> Result<i64, ApiError> {
        Ok(self.query_row_cached(
            "SELECT COALESCE(MAX(id), 0) FROM token_revocations",
            [],
            |row| row.get(0),
        )?)
    }

    fn revocations_after(&self, after: i64) -> Result<Vec<(i64, String)>, ApiError> {
        let mut statement = self.prepare_cached(
            "SELECT id, token_hash FROM token_revocations WHERE id > ?1 ORDER BY id LIMIT 1000",
        )?;
        let rows = statement
            .query_map([after], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn sessions_of(
        &self,
        user_id: UserId,
        current_hash: Option<&str>,
    ) -> Result<Vec<crate::protocol::results::SessionInfo>, ApiError> {
        use crate::protocol::TimestampMs;
        let mut statement = self.prepare(
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

    fn user_for_token(&self, token_hash: &str) -> Result<Option<(User, TimestampMs)>, ApiError> {
        let sql = format!(
            "SELECT COALESCE(t.last_used_at_ms, t.created_at_ms), {USER_COLUMNS}
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1"
        );
        Ok(self
            .query_row_cached(&sql, [token_hash], |row| {
                Ok((user_from_row(row, 1)?, TimestampMs(row.get(0)?)))
            })
            .optional()?)
    }
}
