//! Posting a transfer: both balance changes and the transfer with its entries, in the
//! caller's transaction, with the debited wallet's funds the debit's own condition. Telling a
//! retry from a reuse of a key. The queries are `store::wallets`.

use super::accounts::{paying_wallet, wallet_or_open};
use super::limits::Limits;
use crate::money::Money;
use crate::protocol::payments::{
    IdempotencyKey, InvoiceId, PaymentRequestId, Transfer, TransferId, TransferKind,
};
use crate::protocol::{ApiError, ConversationId, ErrorCode, User, UserId, results};
use crate::store::wallets::{AccountKind, Posted, Wallets};
use crate::store::writer::WriteCtx;

pub use crate::store::wallets::Posting;

/// Moves `amount` from `from` to `to`. A wallet is debited only if it holds the amount: the
/// check is the debit's own condition, so it holds however many writers race on the wallet.
pub fn post(ctx: &WriteCtx, posting: &Posting) -> Result<TransferId, ApiError> {
    post_debiting(ctx, posting).map(|(id, _)| id)
}

/// As [`post`], with the debited account's balance right after the transfer.
pub fn post_debiting(ctx: &WriteCtx, posting: &Posting) -> Result<(TransferId, i64), ApiError> {
    let store = ctx.db();
    let amount = posting.amount.amount_minor;
    assert!(amount > 0, "a transfer moves a positive amount");
    assert_ne!(
        posting.from, posting.to,
        "a transfer moves money between two accounts"
    );
    store.lock_accounts(&[posting.from, posting.to])?;
    // Debit first, then credit; each refuses rather than overdraw a wallet or overflow a
    // balance, and a refusal rolls the whole request back.
    match store.post(posting, ctx.now())? {
        Posted::Moved { transfer, debited } => Ok((transfer, debited)),
        Posted::DebitRefused => Err(refused_debit(store, posting)?),
        Posted::CreditRefused => Err(overflow()),
    }
}

/// Why the debit of `posting` was refused: the wallet holds too little, or (an issuance
/// account) its balance would overflow.
fn refused_debit(store: &dyn Wallets, posting: &Posting) -> Result<ApiError, ApiError> {
    let (kind, balance) = store.account(posting.from)?;
    if kind == AccountKind::Wallet && balance < posting.amount.amount_minor {
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

/// A payment out of a user's wallet into another's, whatever it settles: a plain payment, a
/// request or an invoice. The one flow all three share.
pub struct PayOut<'a> {
    pub payer: &'a User,
    pub payee: &'a User,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a str,
    pub kind: TransferKind,
    pub amount: Money,
    pub memo: &'a str,
    pub conversation_id: ConversationId,
    pub request_id: Option<PaymentRequestId>,
    pub invoice_id: Option<InvoiceId>,
}

/// Claims the payer's `key` for a payment of `kind` (`pay`, `pay_request`, `pay_invoice`):
/// for a key seen before, the original payment's reply (or a conflict, if the key came with
/// another request); `None` for a new key, whose payment is then made.
pub fn claim_payment(
    ctx: &mut WriteCtx,
    payer: UserId,
    key: &IdempotencyKey,
    kind: &'static str,
    fingerprint: &str,
) -> Result<Option<results::Paid>, ApiError> {
    match super::claim_key(ctx, payer, key, kind)? {
        super::Claim::New => Ok(None),
        super::Claim::Seen => replayed_payment(ctx.db(), payer, key, fingerprint),
    }
}

/// Holds the two wallets a payment moves money between (the payee's opened if it has none),
/// before anything else the payment writes. Every transaction takes wallets before event
/// streams, so on PostgreSQL, where writers run side by side, two never wait for each other
/// in a circle (a direct conversation opened by the payment appends to streams).
pub fn hold_wallets(
    ctx: &WriteCtx,
    payer: UserId,
    payee: UserId,
    currency: crate::money::Currency,
) -> Result<(), ApiError> {
    ctx.db().hold_wallets(&[payer, payee], currency)?;
    // A wallet opened here is this transaction's alone until it commits.
    wallet_or_open(ctx.db(), payee, currency).map(drop)
}

/// Makes the payment: from the payer's wallet, checked against `limits`, to the payee's,
/// opened if it has none. Returns the reply: the transfer, and the payer's balance right
/// after it (read from the wallet, not summed from its entries, which grow with history).
pub fn pay_out(
    ctx: &mut WriteCtx,
    payment: &PayOut,
    limits: &Limits,
) -> Result<results::Paid, ApiError> {
    let from = paying_wallet(ctx, payment.payer.id, payment.amount, limits)?;
    let to = wallet_or_open(ctx.db(), payment.payee.id, payment.amount.currency)?;
    let (id, balance) = post_debiting(
        ctx,
        &Posting {
            initiator: Some(payment.payer.id),
            key: payment.key,
            fingerprint: payment.fingerprint,
            kind: payment.kind,
            from,
            to,
            amount: payment.amount,
            memo: payment.memo,
            conversation_id: Some(payment.conversation_id),
            request_id: payment.request_id,
            invoice_id: payment.invoice_id,
        },
    )?;
    // Built from what was just written rather than read back (a round trip on PostgreSQL);
    // a retry's reply is read from the store (`replayed_payment`) and is the same.
    let transfer = Transfer {
        id,
        kind: payment.kind,
        from: Some(User::new(payment.payer.id, payment.payer.username.as_str())),
        to: User::new(payment.payee.id, payment.payee.username.as_str()),
        amount: payment.amount,
        memo: payment.memo.to_owned(),
        conversation_id: Some(payment.conversation_id),
        request_id: payment.request_id,
        created_at: ctx.now(),
    };
    Ok(results::Paid {
        transfer,
        balance_after: Money::new(balance, payment.amount.currency),
        duplicate: false,
    })
}

/// The answer to a reused key: the original transfer if the request is the same, else a conflict.
pub fn replay_or_conflict(
    store: &dyn Wallets,
    initiator: UserId,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<TransferId>, ApiError> {
    match store.transfer_by_key(initiator, key)? {
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
    store: &dyn Wallets,
    payer: UserId,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<results::Paid>, ApiError> {
    let Some(original) = replay_or_conflict(store, payer, key, fingerprint)? else {
        return Ok(None);
    };
    Ok(Some(results::Paid {
        transfer: store.transfer(original)?,
        balance_after: store.balance_after(original)?,
        duplicate: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::accounts::{balance, issuance, wallet_or_open};
    use crate::money::Currency;
    use crate::protocol::payments::TransferKind;
    use crate::store::wallets::AccountId;
    use crate::store::writer::write_once;
    use crate::store::{Store, accounts as users};
    use rusqlite::Connection;

    struct Ledger {
        _store: std::sync::Arc<Store>,
        conn: Connection,
        alice: AccountId,
        bob: AccountId,
        eur: Currency,
    }

    /// alice and bob with a wallet each, funded from issuance with the given amounts.
    fn ledger(alice_has: i64, bob_has: i64) -> Ledger {
        let store = Store::open_in_memory().unwrap();
        let mut conn = store.connect().unwrap();
        let eur = Currency::from_code("EUR").unwrap();
        let (alice, bob) = write_once(&mut conn, |ctx| {
            let mut open = |name| -> Result<AccountId, ApiError> {
                let user = users::create_user(ctx, name, "hash")?;
                wallet_or_open(ctx.db(), user.id, eur)
            };
            let (alice, bob) = (open("alice")?, open("bob")?);
            for (wallet, amount) in [(alice, alice_has), (bob, bob_has)] {
                if amount > 0 {
                    post(ctx, &posting(issuance(ctx.db(), eur)?, wallet, amount, eur))?;
                }
            }
            Ok((alice, bob))
        })
        .unwrap();
        Ledger {
            _store: store,
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
