//! The wallet ledger, on the server's store. Money code here is boring on purpose.
//!
//! Invariants (each checked by `quid admin check-ledger`, see `check.rs`):
//! 1. Double entry: every transfer has exactly two entries, a debit of its amount from its
//!    `from` account and a credit of its amount to its `to` account, in its currency.
//! 2. Nothing is created or lost: in every currency, the balances of all accounts (wallets,
//!    issuance and partners' clearing accounts) sum to zero; money enters only by a mint, from
//!    issuance, or by a top-up, from its partner's clearing account, and leaves only by a
//!    payout into that account.
//! 3. A wallet never goes below zero. The debit is conditional on the funds (one statement,
//!    safe with any number of writers), and a CHECK constraint on the table stands behind it.
//! 4. A balance equals the sum of its account's entries.
//! 5. An idempotency key is applied at most once per initiator: a retry with the same key and
//!    parameters returns the first result and moves nothing; other parameters are refused.
//! 6. A paid request has exactly one transfer; any other request has none.
//! 7. A paid invoice has exactly one payment transfer; an unpaid one has none; its refunds
//!    add up to its `refunded` amount and never exceed what was paid.
//! 8. A succeeded top-up has exactly one credit of its amount and any other top-up none; a
//!    payout has one debit of its amount, and a failed payout exactly one return of it.
//!
//! Every write runs inside the store writer's transaction (`WriteCtx`), so a transfer, its
//! entries, its card and its events commit together or not at all.

pub mod accounts;
pub mod check;
pub mod funding;
pub mod invoices;
pub mod limits;
pub mod payments;
pub mod requests;
pub mod statement;
pub mod transfers;

use crate::money::Money;
use crate::protocol::payments::{IdempotencyKey, MAX_IDEMPOTENCY_KEY_BYTES, MAX_MEMO_CHARS};
use crate::protocol::{ApiError, UserId};
use crate::store::writer::WriteCtx;

pub fn validate_memo(memo: &str) -> Result<(), ApiError> {
    if memo.chars().count() > MAX_MEMO_CHARS {
        return Err(ApiError::invalid(format!(
            "the memo is {} characters; the limit is {MAX_MEMO_CHARS}",
            memo.chars().count()
        )));
    }
    if memo.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid(
            "the memo may not contain control characters",
        ));
    }
    Ok(())
}

/// A key seen before must come with the same request: a retry is fine, another use is a
/// conflict. `what` names the kind of request in the message ("payment", "invoice").
pub fn same_request(
    key: &IdempotencyKey,
    stored_fingerprint: &str,
    fingerprint: &str,
    what: &str,
) -> Result<(), ApiError> {
    if stored_fingerprint == fingerprint {
        return Ok(());
    }
    Err(ApiError::new(
        crate::protocol::ErrorCode::IdempotencyConflict,
        format!(
            "idempotency key {:?} was already used for a different {what}",
            key.0
        ),
    ))
}

/// Whether a claimed key was new, or seen before for the same kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First use: nothing was done with this key yet, so there is nothing to replay.
    New,
    /// A retry or a reuse: the request's own table has what was done.
    Seen,
}

/// Claims `key` for a request of `kind` ("pay", "request_money", ...) by `user`: a key is one
/// request's, so reusing it for another kind of request is `idempotency_conflict`. Within a
/// kind, the request's own table tells a retry from a reuse with other parameters. The claim
/// is part of the request's savepoint: a refused request leaves its key unclaimed.
pub fn claim_key(
    ctx: &mut WriteCtx,
    user_id: UserId,
    key: &IdempotencyKey,
    kind: &'static str,
) -> Result<Claim, ApiError> {
    validate_key(key)?;
    let Some(claimed_by) = ctx.db().claim_key(user_id, key, kind)? else {
        return Ok(Claim::New);
    };
    if claimed_by != kind {
        return Err(ApiError::new(
            crate::protocol::ErrorCode::IdempotencyConflict,
            format!(
                "idempotency key {:?} was already used for a {claimed_by}, not a {kind}",
                key.0
            ),
        ));
    }
    Ok(Claim::Seen)
}

/// Money moved or asked for is more than zero.
pub fn require_positive(amount: Money) -> Result<(), ApiError> {
    if amount.amount_minor > 0 {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "the amount must be more than zero, not {amount}"
    )))
}

pub fn validate_key(key: &IdempotencyKey) -> Result<(), ApiError> {
    if key.0.is_empty() || key.0.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(ApiError::invalid(format!(
            "idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}
