//! A user's statement: every transfer that touched their wallets, newest first, with the
//! balance after each.

use crate::protocol::ApiError;
use crate::protocol::UserId;
use crate::protocol::payments::{StatementLine, TransferId};
use crate::protocol::requests::MAX_STATEMENT_LIMIT;
use crate::store::wallets::Wallets;

/// Up to `limit` lines strictly older than transfer `before` (newest when `None`).
pub fn statement(
    store: &dyn Wallets,
    user: UserId,
    before: Option<TransferId>,
    limit: u32,
) -> Result<(Vec<StatementLine>, bool), ApiError> {
    if limit == 0 || limit > MAX_STATEMENT_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit must be 1 to {MAX_STATEMENT_LIMIT}, not {limit}"
        )));
    }
    let before = before.unwrap_or(TransferId(i64::MAX));
    let mut lines = store.statement_lines(user, before, limit)?;
    let has_more = lines.len() > limit as usize;
    lines.truncate(limit as usize);
    Ok((lines, has_more))
}
