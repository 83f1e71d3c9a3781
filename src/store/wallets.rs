//! The ledger's tables (accounts, transfers, entries, idempotency keys) behind `Wallets`: every
//! query the ledger makes on them, each with a one-line contract, so that a second backend
//! implements this trait and the ledger's rules (`ledger/`) stay as they are. This file stores
//! and finds; it decides nothing.

use crate::money::{Currency, Money};
use crate::protocol::payments::{
    IdempotencyKey, InvoiceId, PaymentRequestId, StatementLine, Transfer, TransferId, TransferKind,
};
use crate::protocol::{ApiError, ConversationId, TimestampMs, User, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountId(pub i64);

/// Everything a transfer records besides its time.
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

/// What [`Wallets::post`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    /// Both balances changed and the transfer is recorded; `debited` is the balance the
    /// debit left.
    Moved { transfer: TransferId, debited: i64 },
    /// The debit was refused: nothing changed.
    DebitRefused,
    /// The credit was refused.
    CreditRefused,
}

/// The kinds of account: a user's wallet, never negative; the issuance account of a currency,
/// minus everything minted in it; a payment partner's clearing account in a currency, minus
/// what came in through the partner plus what went out (may be negative, like issuance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Wallet,
    Issuance,
    Clearing,
}

pub trait Wallets {
    /// `user`'s wallet in `currency`, if it has one.
    fn wallet(&self, user: UserId, currency: Currency) -> Result<Option<AccountId>, ApiError>;
    /// Opens an empty wallet for `user` in `currency`, which it has none of yet.
    fn open_wallet(&self, user: UserId, currency: Currency) -> Result<AccountId, ApiError>;
    /// The issuance account of `currency`, if it has been opened.
    fn issuance(&self, currency: Currency) -> Result<Option<AccountId>, ApiError>;
    /// Opens the issuance account of `currency`, which has none yet.
    fn open_issuance(&self, currency: Currency) -> Result<AccountId, ApiError>;
    /// `provider`'s clearing account in `currency`, if it has been opened.
    fn clearing(&self, provider: &str, currency: Currency) -> Result<Option<AccountId>, ApiError>;
    /// Opens `provider`'s clearing account in `currency`, which has none yet.
    fn open_clearing(&self, provider: &str, currency: Currency) -> Result<AccountId, ApiError>;
    /// `account`'s kind and balance in minor units.
    fn account(&self, account: AccountId) -> Result<(AccountKind, i64), ApiError>;
    /// Every wallet balance of `user`, in currency code order.
    fn balances(&self, user: UserId) -> Result<Vec<Money>, ApiError>;
    /// Holds `accounts` for this transaction, in id order, before their balances change: two
    /// transfers between the same accounts in opposite directions then wait for each other
    /// instead of deadlocking. A backend with one writer at a time has nothing to order.
    fn lock_accounts(&self, _accounts: &[AccountId]) -> Result<(), ApiError> {
        Ok(())
    }
    /// Holds the wallets that `users` have in `currency`, as `lock_accounts` does, found and
    /// held in one step (a payment's first two lookups and its lock were three round trips on
    /// PostgreSQL). A backend with one writer at a time has nothing to hold.
    fn hold_wallets(&self, _users: &[UserId], _currency: Currency) -> Result<(), ApiError> {
        Ok(())
    }
    /// Moves the posting's amount from `from` to `to` and records the transfer at `at` with
    /// its two entries, in as few statements as the backend allows (on PostgreSQL one: a
    /// payment's round trips are its cost there). The debit is made unless it would take a
    /// wallet below zero or any balance outside i64, then the credit under the same bound;
    /// each is its statement's own condition, so it holds however many writers race. After a
    /// refusal the caller rolls the request back (a debit made before it stands till then).
    fn post(&self, posting: &Posting, at: TimestampMs) -> Result<Posted, ApiError>;
    /// The transfer `initiator` made with `key`, and the fingerprint it was made with.
    fn transfer_by_key(
        &self,
        initiator: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<(TransferId, String)>, ApiError>;
    /// Transfer `id` as the wire shows it.
    fn transfer(&self, id: TransferId) -> Result<Transfer, ApiError>;
    /// The invoice that refund transfer `id` gave money back for.
    fn refunded_invoice(&self, id: TransferId) -> Result<InvoiceId, ApiError>;
    /// The debited wallet's balance right after transfer `id`.
    fn balance_after(&self, id: TransferId) -> Result<Money, ApiError>;
    /// The sum of what `wallet` paid out at or after `since`.
    fn paid_out_since(&self, wallet: AccountId, since: TimestampMs) -> Result<i64, ApiError>;
    /// Claims `key` for a request of `kind` by `user`. `None`: the key is new and now theirs;
    /// else the kind of request it was claimed for before.
    fn claim_key(
        &self,
        user: UserId,
        key: &IdempotencyKey,
        kind: &'static str,
    ) -> Result<Option<String>, ApiError>;
    /// Up to `limit + 1` statement lines of `user`'s wallets older than transfer `before`,
    /// newest first, each with the wallet's balance after it.
    fn statement_lines(
        &self,
        user: UserId,
        before: TransferId,
        limit: u32,
    ) -> Result<Vec<StatementLine>, ApiError>;
}

pub(super) struct TransferRow {
    pub(super) kind: String,
    pub(super) amount: i64,
    pub(super) currency: String,
    pub(super) memo: String,
    pub(super) conversation: Option<i64>,
    pub(super) request: Option<i64>,
    pub(super) at: i64,
    pub(super) from: Option<(i64, String)>,
    pub(super) to: (i64, String),
}

impl TransferRow {
    pub(super) fn into_transfer(self, id: TransferId) -> Result<Transfer, ApiError> {
        Ok(Transfer {
            id,
            kind: transfer_kind(&self.kind)?,
            from: self
                .from
                .map(|(id, username)| User::new(UserId(id), username)),
            to: User::new(UserId(self.to.0), self.to.1),
            amount: Money::new(self.amount, currency_of(&self.currency)?),
            memo: self.memo,
            conversation_id: self.conversation.map(ConversationId),
            request_id: self.request.map(PaymentRequestId),
            created_at: TimestampMs(self.at),
        })
    }
}

pub(super) struct StatementRow {
    pub(super) id: i64,
    pub(super) kind: String,
    pub(super) at: i64,
    pub(super) amount: i64,
    pub(super) currency: String,
    pub(super) balance: i64,
    pub(super) memo: String,
    pub(super) counterparty: Option<(i64, String)>,
}

impl StatementRow {
    pub(super) fn into_line(self) -> Result<StatementLine, ApiError> {
        let currency = currency_of(&self.currency)?;
        Ok(StatementLine {
            transfer_id: TransferId(self.id),
            kind: transfer_kind(&self.kind)?,
            at: TimestampMs(self.at),
            amount: Money::new(self.amount, currency),
            balance_after: Money::new(self.balance, currency),
            counterparty: self
                .counterparty
                .map(|(id, username)| User::new(UserId(id), username)),
            memo: self.memo,
        })
    }
}

/// An account's kind as stored; one this build does not know is a store error.
pub(super) fn account_kind(stored: &str) -> Result<AccountKind, ApiError> {
    match stored {
        "wallet" => Ok(AccountKind::Wallet),
        "issuance" => Ok(AccountKind::Issuance),
        "clearing" => Ok(AccountKind::Clearing),
        other => {
            tracing::error!(kind = other, "unknown account kind in the store");
            Err(ApiError::internal())
        }
    }
}

fn transfer_kind(stored: &str) -> Result<TransferKind, ApiError> {
    TransferKind::parse(stored).ok_or_else(|| {
        tracing::error!(kind = stored, "unknown transfer kind in the store");
        ApiError::internal()
    })
}

/// A currency code read back from the store; one this build does not know is a store error.
pub fn currency_of(code: &str) -> Result<Currency, ApiError> {
    Currency::from_code(code).map_err(|e| {
        tracing::error!(error = %e, "stored currency is unknown");
        ApiError::internal()
    })
}
