//! Accounts: one wallet per user and currency, one issuance account per currency.

use crate::money::{Currency, Money};
use crate::protocol::{ApiError, UserId};
use crate::store::Cached;
use crate::store::writer::WriteCtx;
use rusqlite::{Connection, OptionalExtension};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountId(pub i64);

/// `user_id`'s wallet in `currency`, if it has one.
pub fn wallet(
    conn: &Connection,
    user_id: UserId,
    currency: Currency,
) -> Result<Option<AccountId>, ApiError> {
    let id = conn
        .query_row_cached(
            "SELECT id FROM accounts WHERE kind = 'wallet' AND user_id = ?1 AND currency = ?2",
            rusqlite::params![user_id.0, currency.code()],
            |row| row.get(0),
        )
        .optional()?;
    Ok(id.map(AccountId))
}

/// The wallet `amount` would be paid from, checked against the limits: a user with no wallet
/// in that currency has no money in it (`insufficient_funds`).
pub fn paying_wallet(
    ctx: &WriteCtx,
    user_id: UserId,
    amount: Money,
    limits: &super::limits::Limits,
) -> Result<AccountId, ApiError> {
    let Some(from) = wallet(ctx.conn, user_id, amount.currency)? else {
        return Err(ApiError::new(
            crate::protocol::ErrorCode::InsufficientFunds,
            format!(
                "you have no {} balance; this needs {amount}",
                amount.currency
            ),
        ));
    };
    limits.check(ctx.conn, from, amount, ctx.now.0)?;
    Ok(from)
}

/// `user_id`'s wallet in `currency`, opened (empty) if it has none.
pub fn wallet_or_open(
    conn: &Connection,
    user_id: UserId,
    currency: Currency,
) -> Result<AccountId, ApiError> {
    if let Some(id) = wallet(conn, user_id, currency)? {
        return Ok(id);
    }
    conn.execute_cached(
        "INSERT INTO accounts (kind, user_id, currency) VALUES ('wallet', ?1, ?2)",
        rusqlite::params![user_id.0, currency.code()],
    )?;
    Ok(AccountId(conn.last_insert_rowid()))
}

/// The issuance account of `currency`: where minted money comes from. Its balance is minus
/// everything ever minted in that currency.
pub fn issuance(conn: &Connection, currency: Currency) -> Result<AccountId, ApiError> {
    let id: Option<i64> = conn
        .query_row_cached(
            "SELECT id FROM accounts WHERE kind = 'issuance' AND currency = ?1",
            [currency.code()],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(id) = id {
        return Ok(AccountId(id));
    }
    conn.execute_cached(
        "INSERT INTO accounts (kind, currency) VALUES ('issuance', ?1)",
        [currency.code()],
    )?;
    Ok(AccountId(conn.last_insert_rowid()))
}

pub fn balance(conn: &Connection, account: AccountId) -> Result<i64, ApiError> {
    Ok(conn.query_row_cached(
        "SELECT balance_minor FROM accounts WHERE id = ?1",
        [account.0],
        |row| row.get(0),
    )?)
}

/// Every wallet balance of `user_id`, by currency code.
pub fn balances(conn: &Connection, user_id: UserId) -> Result<Vec<Money>, ApiError> {
    let mut statement = conn.prepare_cached(
        "SELECT currency, balance_minor FROM accounts WHERE kind = 'wallet' AND user_id = ?1
         ORDER BY currency",
    )?;
    let rows = statement
        .query_map([user_id.0], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(code, minor)| Ok(Money::new(minor, currency_of(&code)?)))
        .collect()
}

/// A currency code read back from the store; one this build does not know is a store error.
pub fn currency_of(code: &str) -> Result<Currency, ApiError> {
    Currency::from_code(code).map_err(|e| {
        tracing::error!(error = %e, "stored currency is unknown");
        ApiError::internal()
    })
}
