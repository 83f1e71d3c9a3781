//! Posting a transfer: both entries and both balance changes, in the caller's transaction,
//! with the debited wallet checked for funds first. Reading transfers back.

use super::accounts::{AccountId, currency_of};
use crate::money::Money;
use crate::protocol::payments::{
    IdempotencyKey, InvoiceId, PaymentRequestId, Transfer, TransferId, TransferKind,
};
use crate::protocol::{ApiError, ConversationId, ErrorCode, TimestampMs, User, UserId};
use crate::store::Cached;
use crate::store::writer::WriteCtx;
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

/// Moves `amount` from `from` to `to`. A wallet is debited only if it holds the amount: the
/// check is the debit's own condition, so it holds however many writers race on the wallet.
pub fn post(ctx: &WriteCtx, posting: &Posting) -> Result<TransferId, ApiError> {
    let conn = ctx.conn;
    let amount = posting.amount.amount_minor;
    assert!(amount > 0, "a transfer moves a positive amount");
    assert_ne!(
        posting.from, posting.to,
        "a transfer moves money between two accounts"
    );
    // Debit first, then credit; each refuses rather than overdraw a wallet or overflow a
    // balance, and a refusal rolls the whole request back.
    if !adjust_balance(conn, posting.from, -amount)? {
        return Err(refused_debit(conn, posting)?);
    }
    if !adjust_balance(conn, posting.to, amount)? {
        return Err(overflow());
    }
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
            ctx.now.0
        ],
    )?;
    let transfer = TransferId(conn.last_insert_rowid());
    for (account, delta) in [(posting.from, -amount), (posting.to, amount)] {
        conn.execute_cached(
            "INSERT INTO entries (transfer_id, account_id, amount_minor) VALUES (?1, ?2, ?3)",
            [transfer.0, account.0, delta],
        )?;
    }
    Ok(transfer)
}

/// Adds `delta` to `account`'s balance unless that would take a wallet below zero or any
/// balance past the range of i64 (where SQLite would turn it into a float). False: refused.
fn adjust_balance(conn: &Connection, account: AccountId, delta: i64) -> Result<bool, ApiError> {
    let changed = conn.execute_cached(
        "UPDATE accounts SET balance_minor = balance_minor + ?2
         WHERE id = ?1
           AND (kind = 'issuance' OR balance_minor + ?2 >= 0)
           AND (?2 >= 0 OR balance_minor >= (-9223372036854775807 - 1) - ?2)
           AND (?2 <= 0 OR balance_minor <= 9223372036854775807 - ?2)",
        [account.0, delta],
    )?;
    Ok(changed == 1)
}

/// Why the debit of `posting` was refused: the wallet holds too little, or (an issuance
/// account) its balance would overflow.
fn refused_debit(conn: &Connection, posting: &Posting) -> Result<ApiError, ApiError> {
    let (kind, balance) = account_state(conn, posting.from)?;
    if kind == "wallet" && balance < posting.amount.amount_minor {
        return Ok(ApiError::new(
            ErrorCode::InsufficientFunds,
            format!(
                "your balance is {}; this needs {}",
                Money::new(balance, posting.amount.currency),
                posting.amount
            ),
        ));
    }
    Ok(overflow())
}

fn overflow() -> ApiError {
    ApiError::new(
        ErrorCode::LimitExceeded,
        "that amount would overflow a balance",
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::accounts::{balance, issuance, wallet_or_open};
    use crate::money::Currency;
    use crate::store::writer::write_once;
    use crate::store::{Store, accounts as users};

    struct Ledger {
        _dir: tempfile::TempDir,
        conn: Connection,
        alice: AccountId,
        bob: AccountId,
        eur: Currency,
    }

    /// alice and bob with a wallet each, funded from issuance with the given amounts.
    fn ledger(alice_has: i64, bob_has: i64) -> Ledger {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let mut conn = store.connect().unwrap();
        let eur = Currency::from_code("EUR").unwrap();
        let (alice, bob) = write_once(&mut conn, |ctx| {
            let mut open = |name| -> Result<AccountId, ApiError> {
                let user = users::create_user(ctx, name, "hash")?;
                wallet_or_open(ctx.conn, user.id, eur)
            };
            let (alice, bob) = (open("alice")?, open("bob")?);
            for (wallet, amount) in [(alice, alice_has), (bob, bob_has)] {
                if amount > 0 {
                    post(ctx, &posting(issuance(ctx.conn, eur)?, wallet, amount, eur))?;
                }
            }
            Ok((alice, bob))
        })
        .unwrap();
        Ledger {
            _dir: dir,
            conn,
            alice,
            bob,
            eur,
        }
    }

    fn posting(
        from: AccountId,
        to: AccountId,
        amount: i64,
        currency: Currency,
    ) -> Posting<'static> {
        static KEY: std::sync::LazyLock<IdempotencyKey> =
            std::sync::LazyLock::new(|| IdempotencyKey("k".into()));
        Posting {
            initiator: None,
            key: &KEY,
            fingerprint: "test",
            kind: TransferKind::Mint,
            from,
            to,
            amount: Money::new(amount, currency),
            memo: "",
            conversation_id: None,
            request_id: None,
            invoice_id: None,
        }
    }

    fn pay(
        ledger: &mut Ledger,
        from: AccountId,
        to: AccountId,
        amount: i64,
    ) -> Result<(), ApiError> {
        let order = posting(from, to, amount, ledger.eur);
        write_once(&mut ledger.conn, |ctx| post(ctx, &order).map(|_| ()))
    }

    #[test]
    fn a_debit_that_would_overdraw_is_refused_and_moves_nothing() {
        let mut ledger = ledger(500, 0);
        let (alice, bob) = (ledger.alice, ledger.bob);
        let refused = pay(&mut ledger, alice, bob, 501).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InsufficientFunds);
        let says = format!("your balance is {}", Money::new(500, ledger.eur));
        assert!(refused.message.contains(&says), "{}", refused.message);
        pay(&mut ledger, alice, bob, 500).unwrap();
        assert_eq!(balance(&ledger.conn, alice).unwrap(), 0);
        assert_eq!(balance(&ledger.conn, bob).unwrap(), 500);
    }

    #[test]
    fn a_credit_that_would_overflow_is_refused_and_undoes_the_debit() {
        let mut ledger = ledger(1, i64::MAX);
        let (alice, bob) = (ledger.alice, ledger.bob);
        let refused = pay(&mut ledger, alice, bob, 1).unwrap_err();
        assert_eq!(refused.code, ErrorCode::LimitExceeded);
        assert_eq!(balance(&ledger.conn, alice).unwrap(), 1);
        assert_eq!(balance(&ledger.conn, bob).unwrap(), i64::MAX);
    }
}
