//! Accounts: one wallet per user and currency, opened on first need; one issuance account per
//! currency. The rules; the queries are `store::wallets`.

use crate::money::{Currency, Money};
use crate::protocol::{ApiError, ErrorCode, UserId};
use crate::store::wallets::{AccountId, Wallets};
use crate::store::writer::WriteCtx;

/// The wallet `amount` would be paid from, checked against the limits: a user with no wallet
/// in that currency has no money in it (`insufficient_funds`).
pub fn paying_wallet(
    ctx: &WriteCtx,
    user_id: UserId,
    amount: Money,
    limits: &super::limits::Limits,
) -> Result<AccountId, ApiError> {
    let Some(from) = ctx.db().wallet(user_id, amount.currency)? else {
        return Err(ApiError::new(
            ErrorCode::InsufficientFunds,
            format!(
                "you have no {} balance; this needs {amount}",
                amount.currency
            ),
        ));
    };
    limits.check(ctx.db(), from, amount, ctx.now())?;
    Ok(from)
}

/// `user_id`'s wallet in `currency`, opened (empty) if it has none.
pub fn wallet_or_open(
    store: &dyn Wallets,
    user_id: UserId,
    currency: Currency,
) -> Result<AccountId, ApiError> {
    match store.wallet(user_id, currency)? {
        Some(id) => Ok(id),
        None => store.open_wallet(user_id, currency),
    }
}

/// The issuance account of `currency`: where minted money comes from, opened on first use.
pub fn issuance(store: &dyn Wallets, currency: Currency) -> Result<AccountId, ApiError> {
    match store.issuance(currency)? {
        Some(id) => Ok(id),
        None => store.open_issuance(currency),
    }
}

pub fn balance(store: &dyn Wallets, account: AccountId) -> Result<i64, ApiError> {
    Ok(store.account(account)?.1)
}
