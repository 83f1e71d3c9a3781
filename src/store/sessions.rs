//! Sessions: the tokens `register` and `login` hand out (stored only as SHA-256), when and
//! where each was last used, and the log of revoked tokens that every server process follows
//! to close their live connections (`server/revocation.rs`).

use super::writer::WriteCtx;
use crate::protocol::{ApiError, TimestampMs, User, UserId};

/// Stores a new token (by its hash) for `user_id`.
pub fn insert_token(ctx: &mut WriteCtx, token_hash: &str, user_id: UserId) -> Result<(), ApiError> {
    ctx.db().insert_token(token_hash, user_id, ctx.now())
}

/// Revocations older than this are pruned: every server has long since read them.
const KEEP_REVOCATIONS_MS: i64 = 24 * 60 * 60 * 1000;

/// Deletes a token and logs its revocation, so every server closes its live connections.
/// Returns whether the token existed.
pub fn revoke_token(ctx: &mut WriteCtx, token_hash: &str) -> Result<bool, ApiError> {
    if !ctx.db().delete_token(token_hash)? {
        return Ok(false);
    }
    let forget_before = TimestampMs(ctx.now().0 - KEEP_REVOCATIONS_MS);
    ctx.db()
        .log_revocation(token_hash, ctx.now(), forget_before)?;
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
    ctx.db().touch_token(token_hash, ctx.now(), address)
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
