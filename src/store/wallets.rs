//! The ledger's tables (accounts, transfers, entries, idempotency keys) behind `Wallets`: every
//! query the ledger makes on them, each with a one-line contract, so that a second backend
//! implements this trait and the ledger's rules (`ledger/`) stay as they are. This file stores
//! and finds; it decides nothing.

use super::Cached;
use crate::money::{Currency, Money};
use crate::protocol::payments::{
    IdempotencyKey, InvoiceId, PaymentRequestId, StatementLine, Transfer, TransferId, TransferKind,
};
use crate::protocol::{ApiError, ConversationId, TimestampMs, User, UserId};
use rusqlite::{Connection, OptionalExtension};

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
    /// Adds `delta` to `account`'s balance unless that would take a wallet below zero or any
    /// balance outside i64, in one conditional statement. False: refused, nothing changed.
    fn adjust_balance(&self, account: AccountId, delta: i64) -> Result<bool, ApiError>;
    /// Holds `accounts` for this transaction, in id order, before their balances change: two
    /// transfers between the same accounts in opposite directions then wait for each other
    /// instead of deadlocking. A backend with one writer at a time has nothing to order.
    fn lock_accounts(&self, _accounts: &[AccountId]) -> Result<(), ApiError> {
        Ok(())
    }
    /// Records a transfer at `at` and its two entries (the balances are `adjust_balance`'s).
    fn insert_transfer(&self, posting: &Posting, at: TimestampMs) -> Result<TransferId, ApiError>;
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

impl Wallets for Connection {
    fn wallet(&self, user: UserId, currency: Currency) -> Result<Option<AccountId>, ApiError> {
        let id = self
            .query_row_cached(
                "SELECT id FROM accounts WHERE kind = 'wallet' AND user_id = ?1 AND currency = ?2",
                rusqlite::params![user.0, currency.code()],
                |row| row.get(0),
            )
            .optional()?;
        Ok(id.map(AccountId))
    }

    fn open_wallet(&self, user: UserId, currency: Currency) -> Result<AccountId, ApiError> {
        self.execute_cached(
            "INSERT INTO accounts (kind, user_id, currency) VALUES ('wallet', ?1, ?2)",
            rusqlite::params![user.0, currency.code()],
        )?;
        Ok(AccountId(self.last_insert_rowid()))
    }

    fn issuance(&self, currency: Currency) -> Result<Option<AccountId>, ApiError> {
        let id = self
            .query_row_cached(
                "SELECT id FROM accounts WHERE kind = 'issuance' AND currency = ?1",
                [currency.code()],
                |row| row.get(0),
            )
            .optional()?;
        Ok(id.map(AccountId))
    }

    fn open_issuance(&self, currency: Currency) -> Result<AccountId, ApiError> {
        self.execute_cached(
            "INSERT INTO accounts (kind, currency) VALUES ('issuance', ?1)",
            [currency.code()],
        )?;
        Ok(AccountId(self.last_insert_rowid()))
    }

    fn clearing(&self, provider: &str, currency: Currency) -> Result<Option<AccountId>, ApiError> {
        let id = self
            .query_row_cached(
                "SELECT id FROM accounts WHERE kind = 'clearing' AND provider = ?1 AND currency = ?2",
                [provider, currency.code()],
                |row| row.get(0),
            )
            .optional()?;
        Ok(id.map(AccountId))
    }

    fn open_clearing(&self, provider: &str, currency: Currency) -> Result<AccountId, ApiError> {
        self.execute_cached(
            "INSERT INTO accounts (kind, provider, currency) VALUES ('clearing', ?1, ?2)",
            [provider, currency.code()],
        )?;
        Ok(AccountId(self.last_insert_rowid()))
    }

    fn account(&self, account: AccountId) -> Result<(AccountKind, i64), ApiError> {
        let (kind, balance): (String, i64) = self.query_row_cached(
            "SELECT kind, balance_minor FROM accounts WHERE id = ?1",
            [account.0],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok((account_kind(&kind)?, balance))
    }

    fn balances(&self, user: UserId) -> Result<Vec<Money>, ApiError> {
        let mut statement = self.prepare_cached(
            "SELECT currency, balance_minor FROM accounts WHERE kind = 'wallet' AND user_id = ?1
             ORDER BY currency",
        )?;
        let rows = statement
            .query_map([user.0], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(code, minor)| Ok(Money::new(minor, currency_of(&code)?)))
            .collect()
    }

    fn adjust_balance(&self, account: AccountId, delta: i64) -> Result<bool, ApiError> {
        // The bounds are written so that no arithmetic in them can overflow (SQLite would
        // turn an overflowing integer into a float).
        let changed = self.execute_cached(
            "UPDATE accounts SET balance_minor = balance_minor + ?2
             WHERE id = ?1
               AND (kind != 'wallet' OR balance_minor + ?2 >= 0)
               AND (?2 >= 0 OR balance_minor >= (-9223372036854775807 - 1) - ?2)
               AND (?2 <= 0 OR balance_minor <= 9223372036854775807 - ?2)",
            [account.0, delta],
        )?;
        Ok(changed == 1)
    }

    fn insert_transfer(&self, posting: &Posting, at: TimestampMs) -> Result<TransferId, ApiError> {
        self.execute_cached(
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
                posting.amount.amount_minor,
                posting.amount.currency.code(),
                posting.memo,
                posting.conversation_id.map(|c| c.0),
                posting.request_id.map(|r| r.0),
                posting.invoice_id.map(|i| i.0),
                at.0
            ],
        )?;
        let transfer = TransferId(self.last_insert_rowid());
        let amount = posting.amount.amount_minor;
        for (account, delta) in [(posting.from, -amount), (posting.to, amount)] {
            self.execute_cached(
                "INSERT INTO entries (transfer_id, account_id, amount_minor) VALUES (?1, ?2, ?3)",
                [transfer.0, account.0, delta],
            )?;
        }
        Ok(transfer)
    }

    fn transfer_by_key(
        &self,
        initiator: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<(TransferId, String)>, ApiError> {
        let found = self
            .query_row_cached(
                "SELECT id, fingerprint FROM transfers WHERE initiator_id = ?1 AND idempotency_key = ?2",
                rusqlite::params![initiator.0, key.0],
                |row| Ok((TransferId(row.get(0)?), row.get(1)?)),
            )
            .optional()?;
        Ok(found)
    }

    fn transfer(&self, id: TransferId) -> Result<Transfer, ApiError> {
        let row = self.query_row_cached(
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
                Ok(TransferRow {
                    kind: row.get(0)?,
                    amount: row.get(1)?,
                    currency: row.get(2)?,
                    memo: row.get(3)?,
                    conversation: row.get(4)?,
                    request: row.get(5)?,
                    at: row.get(6)?,
                    from: row.get::<_, Option<i64>>(7)?.zip(row.get(8)?),
                    to: (row.get(9)?, row.get(10)?),
                })
            },
        )?;
        row.into_transfer(id)
    }

    fn refunded_invoice(&self, id: TransferId) -> Result<InvoiceId, ApiError> {
        let invoice: i64 = self.query_row_cached(
            "SELECT invoice_id FROM transfers WHERE id = ?1",
            [id.0],
            |row| row.get(0),
        )?;
        Ok(InvoiceId(invoice))
    }

    fn balance_after(&self, id: TransferId) -> Result<Money, ApiError> {
        let (minor, currency): (i64, String) = self.query_row_cached(
            "SELECT (SELECT SUM(e2.amount_minor) FROM entries e2
                     WHERE e2.account_id = e.account_id AND e2.id <= e.id), t.currency
             FROM entries e JOIN transfers t ON t.id = e.transfer_id
             WHERE e.transfer_id = ?1 AND e.account_id = t.from_account",
            [id.0],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok(Money::new(minor, currency_of(&currency)?))
    }

    fn paid_out_since(&self, wallet: AccountId, since: TimestampMs) -> Result<i64, ApiError> {
        Ok(self.query_row_cached(
            "SELECT COALESCE(SUM(amount_minor), 0) FROM transfers
             WHERE from_account = ?1 AND created_at_ms >= ?2",
            [wallet.0, since.0],
            |row| row.get(0),
        )?)
    }

    fn claim_key(
        &self,
        user: UserId,
        key: &IdempotencyKey,
        kind: &'static str,
    ) -> Result<Option<String>, ApiError> {
        let inserted = self.execute_cached(
            "INSERT INTO idempotency_keys (user_id, idempotency_key, kind) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, idempotency_key) DO NOTHING",
            rusqlite::params![user.0, key.0, kind],
        )?;
        if inserted == 1 {
            return Ok(None);
        }
        Ok(Some(self.query_row_cached(
            "SELECT kind FROM idempotency_keys WHERE user_id = ?1 AND idempotency_key = ?2",
            rusqlite::params![user.0, key.0],
            |row| row.get(0),
        )?))
    }

    fn statement_lines(
        &self,
        user: UserId,
        before: TransferId,
        limit: u32,
    ) -> Result<Vec<StatementLine>, ApiError> {
        let mut statement = self.prepare_cached(
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
        let rows = statement
            .query_map(rusqlite::params![user.0, before.0, limit + 1], |row| {
                Ok(StatementRow {
                    id: row.get(0)?,
                    kind: row.get(1)?,
                    at: row.get(2)?,
                    amount: row.get(3)?,
                    currency: row.get(4)?,
                    balance: row.get(5)?,
                    memo: row.get(6)?,
                    counterparty: row.get::<_, Option<i64>>(7)?.zip(row.get(8)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(StatementRow::into_line).collect()
    }
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
