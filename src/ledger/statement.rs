//! A user's statement: every transfer that touched their wallets, newest first, with the
//! balance after each.

use super::accounts::currency_of;
use crate::money::Money;
use crate::protocol::payments::{StatementLine, TransferId, TransferKind};
use crate::protocol::{ApiError, TimestampMs, User, UserId};
use rusqlite::Connection;

pub const MAX_STATEMENT_LIMIT: u32 = 500;

/// Up to `limit` lines strictly older than transfer `before` (newest when `None`).
pub fn statement(
    conn: &Connection,
    user: UserId,
    before: Option<TransferId>,
    limit: u32,
) -> Result<(Vec<StatementLine>, bool), ApiError> {
    if limit == 0 || limit > MAX_STATEMENT_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit must be 1 to {MAX_STATEMENT_LIMIT}, not {limit}"
        )));
    }
    let mut statement = conn.prepare_cached(
        "WITH mine AS (
             SELECT e.transfer_id, e.amount_minor, a.currency,
                    SUM(e.amount_minor) OVER (PARTITION BY e.account_id ORDER BY e.id) AS balance_after
             FROM entries e JOIN accounts a ON a.id = e.account_id
             WHERE a.kind = 'wallet' AND a.user_id = ?1)
         SELECT t.id, t.kind, t.created_at_ms, mine.amount_minor, mine.currency, mine.balance_after,
                t.memo, ou.id, ou.username
         FROM mine JOIN transfers t ON t.id = mine.transfer_id
         JOIN entries oe ON oe.transfer_id = t.id AND oe.amount_minor = -mine.amount_minor
         JOIN accounts oa ON oa.id = oe.account_id
         LEFT JOIN users ou ON ou.id = oa.user_id
         WHERE t.id < ?2
         ORDER BY t.id DESC LIMIT ?3",
    )?;
    let before = before.map_or(i64::MAX, |t| t.0);
    let rows = statement
        .query_map(rusqlite::params![user.0, before, limit + 1], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, Option<i64>>(7)?,
                row.get::<_, Option<String>>(8)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = rows.len() > limit as usize;
    let lines = rows
        .into_iter()
        .take(limit as usize)
        .map(
            |(id, kind, at, amount, currency, balance, memo, other_id, other_name)| {
                let currency = currency_of(&currency)?;
                Ok(StatementLine {
                    transfer_id: TransferId(id),
                    kind: TransferKind::parse(&kind).ok_or_else(ApiError::internal)?,
                    at: TimestampMs(at),
                    amount: Money::new(amount, currency),
                    balance_after: Money::new(balance, currency),
                    counterparty: other_id
                        .zip(other_name)
                        .map(|(id, username)| User::new(UserId(id), username)),
                    memo,
                })
            },
        )
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((lines, has_more))
}
