//! Posting a transfer: both entries and both balance changes, in the caller's transaction,
//! with the debited wallet checked for funds first. Reading transfers back.

use super::accounts::{AccountId, currency_of};
use crate::money::Money;
use crate::protocol::payments::{
    IdempotencyKey, InvoiceId, PaymentRequestId, Transfer, TransferId, TransferKind,
};
use crate::protocol::{ApiError, ConversationId, ErrorCode, TimestampMs, User, UserId};
use crate::store::Cached;
use rusqlite::{Connection, OptionalExtension};

/// Everything a transfer records.
pub struct Posting<'a> {
    pub initiator: Option<UserId>,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a str,
    pub kind: TransferKind,
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Money,
    pub memo: &'a str,
    pub conversation_id: Option<ConversationId>,
    pub request_id: Option<PaymentRequestId>,
    pub invoice_id: Option<InvoiceId>,
}

/// Moves `amount` from `from` to `to`. A wallet is debited only if it holds the amount; the
/// balance check and the debit are in the same transaction, so no race can overdraw it.
pub fn post(conn: &Connection, posting: &Posting) -> Result<TransferId, ApiError> {
    let amount = posting.amount.amount_minor;
    assert!(amount > 0, "a transfer moves a positive amount");
    assert_ne!(
        posting.from, posting.to,
        "a transfer moves money between two accounts"
    );
    let (from_kind, from_balance) = account_state(conn, posting.from)?;
    if from_kind == "wallet" && from_balance < amount {
        return Err(ApiError::new(
            ErrorCode::InsufficientFunds,
            format!(
                "your balance is {}; this needs {}",
                Money::new(from_balance, posting.amount.currency),
                posting.amount
            ),
        ));
    }
    let (_, to_balance) = account_state(conn, posting.to)?;
    if to_balance.checked_add(amount).is_none() || from_balance.checked_sub(amount).is_none() {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            "that amount would overflow a balance",
        ));
    }
    let now = TimestampMs::now().0;
    conn.execute_cached(
        "INSERT INTO transfers (initiator_id, idempotency_key, fingerprint, kind, from_account,
             to_account, amount_minor, currency, memo, conversation_id, request_id, invoice_id, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        rusqlite::params![
            posting.initiator.map(|u| u.0),
            posting.key.0,
            posting.fingerprint,
            posting.kind.as_str(),
            posting.from.0,
            posting.to.0,
            amount,
            posting.amount.currency.code(),
            posting.memo,
            posting.conversation_id.map(|c| c.0),
            posting.request_id.map(|r| r.0),
            posting.invoice_id.map(|i| i.0),
            now
        ],
    )?;
    let transfer = TransferId(conn.last_insert_rowid());
    for (account, delta) in [(posting.from, -amount), (posting.to, amount)] {
        conn.execute_cached(
            "INSERT INTO entries (transfer_id, account_id, amount_minor) VALUES (?1, ?2, ?3)",
            [transfer.0, account.0, delta],
        )?;
        conn.execute_cached(
            "UPDATE accounts SET balance_minor = balance_minor + ?2 WHERE id = ?1",
            [account.0, delta],
        )?;
    }
    Ok(transfer)
}

fn account_state(conn: &Connection, account: AccountId) -> Result<(String, i64), ApiError> {
    Ok(conn.query_row_cached(
        "SELECT kind, balance_minor FROM accounts WHERE id = ?1",
        [account.0],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?)
}

/// The transfer `initiator` already made with `key`, and the fingerprint it was made with.
pub fn by_key(
    conn: &Connection,
    initiator: UserId,
    key: &IdempotencyKey,
) -> Result<Option<(TransferId, String)>, ApiError> {
    let found = conn
        .query_row_cached(
            "SELECT id, fingerprint FROM transfers WHERE initiator_id = ?1 AND idempotency_key = ?2",
            rusqlite::params![initiator.0, key.0],
            |row| Ok((TransferId(row.get(0)?), row.get(1)?)),
        )
        .optional()?;
    Ok(found)
}

/// The answer to a reused key: the original transfer if the request is the same, else a conflict.
pub fn replay_or_conflict(
    conn: &Connection,
    initiator: UserId,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<TransferId>, ApiError> {
    match by_key(conn, initiator, key)? {
        None => Ok(None),
        Some((id, stored)) => {
            super::same_request(key, &stored, fingerprint, "payment")?;
            Ok(Some(id))
        }
    }
}

/// The original result of a payment whose key was seen before with the same request; a
/// conflict if the key was used for something else; `None` for a new key.
pub fn replayed_payment(
    conn: &Connection,
    payer: UserId,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<crate::protocol::results::Paid>, ApiError> {
    let Some(original) = replay_or_conflict(conn, payer, key, fingerprint)? else {
        return Ok(None);
    };
    Ok(Some(crate::protocol::results::Paid {
        transfer: view(conn, original)?,
        balance_after: balance_after(conn, original)?,
        duplicate: true,
    }))
}

/// A transfer as the wire shows it.
pub fn view(conn: &Connection, id: TransferId) -> Result<Transfer, ApiError> {
    let row = conn.query_row_cached(
        "SELECT t.kind, t.amount_minor, t.currency, t.memo, t.conversation_id, t.request_id,
                t.created_at_ms, fu.id, fu.username, tu.id, tu.username
         FROM transfers t
         JOIN accounts fa ON fa.id = t.from_account
         JOIN accounts ta ON ta.id = t.to_account
         LEFT JOIN users fu ON fu.id = fa.user_id
         JOIN users tu ON tu.id = ta.user_id
         WHERE t.id = ?1",
        [id.0],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<i64>>(4)?,
                row.get::<_, Option<i64>>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, Option<i64>>(7)?,
                row.get::<_, Option<String>>(8)?,
                row.get::<_, i64>(9)?,
                row.get::<_, String>(10)?,
            ))
        },
    )?;
    let (
        kind,
        amount,
        currency,
        memo,
        conversation,
        request,
        at,
        from_id,
        from_name,
        to_id,
        to_name,
    ) = row;
    Ok(Transfer {
        id,
        kind: TransferKind::parse(&kind).ok_or_else(ApiError::internal)?,
        from: from_id
            .zip(from_name)
            .map(|(id, username)| User::new(UserId(id), username)),
        to: User::new(UserId(to_id), to_name),
        amount: Money::new(amount, currency_of(&currency)?),
        memo,
        conversation_id: conversation.map(ConversationId),
        request_id: request.map(PaymentRequestId),
        created_at: TimestampMs(at),
    })
}

/// The debited wallet's balance right after transfer `id` (the sum of its entries up to it).
pub fn balance_after(conn: &Connection, id: TransferId) -> Result<Money, ApiError> {
    let (minor, currency): (i64, String) = conn.query_row_cached(
        "SELECT (SELECT SUM(e2.amount_minor) FROM entries e2
                 WHERE e2.account_id = e.account_id AND e2.id <= e.id), t.currency
         FROM entries e JOIN transfers t ON t.id = e.transfer_id
         WHERE e.transfer_id = ?1 AND e.account_id = t.from_account",
        [id.0],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(Money::new(minor, currency_of(&currency)?))
}
