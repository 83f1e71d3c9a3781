//! `Wallets` on PostgreSQL: the same contracts as SQLite's (`store::wallets`), in PostgreSQL's
//! dialect. Sums are cast back to BIGINT (PostgreSQL sums BIGINT as NUMERIC), and a balance's
//! bounds are checked in NUMERIC: PostgreSQL raises an error on BIGINT overflow, even in a
//! branch a CASE would not take (it folds constants first).

use super::PgTx;
use crate::money::{Currency, Money};
use crate::protocol::payments::{IdempotencyKey, InvoiceId, StatementLine, Transfer, TransferId};
use crate::protocol::{ApiError, TimestampMs, UserId};
use crate::store::wallets::{
    AccountId, AccountKind, Posted, Posting, StatementRow, TransferRow, Wallets, account_kind,
    currency_of,
};

impl Wallets for PgTx<'_> {
    fn wallet(&self, user: UserId, currency: Currency) -> Result<Option<AccountId>, ApiError> {
        if let Some(known) = self.held.wallet(user, currency) {
            return Ok(Some(known));
        }
        let row = self.tx().query_opt(
            "SELECT id FROM accounts WHERE kind = 'wallet' AND user_id = $1 AND currency = $2",
            &[&user.0, &currency.code()],
        )?;
        let found = row.map(|row| AccountId(row.get(0)));
        if let Some(id) = found {
            self.held.found_wallet(user, currency, id);
        }
        Ok(found)
    }

    fn open_wallet(&self, user: UserId, currency: Currency) -> Result<AccountId, ApiError> {
        let row = self.tx().query_one(
            "INSERT INTO accounts (kind, user_id, currency) VALUES ('wallet', $1, $2) RETURNING id",
            &[&user.0, &currency.code()],
        )?;
        let id = AccountId(row.get(0));
        // Nobody else sees the new row before this transaction commits: it is held already.
        self.held.found_wallet(user, currency, id);
        self.held.locked(&[id]);
        Ok(id)
    }

    fn issuance(&self, currency: Currency) -> Result<Option<AccountId>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id FROM accounts WHERE kind = 'issuance' AND currency = $1",
            &[&currency.code()],
        )?;
        Ok(row.map(|row| AccountId(row.get(0))))
    }

    fn open_issuance(&self, currency: Currency) -> Result<AccountId, ApiError> {
        let row = self.tx().query_one(
            "INSERT INTO accounts (kind, currency) VALUES ('issuance', $1) RETURNING id",
            &[&currency.code()],
        )?;
        Ok(AccountId(row.get(0)))
    }

    fn clearing(&self, provider: &str, currency: Currency) -> Result<Option<AccountId>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id FROM accounts WHERE kind = 'clearing' AND provider = $1 AND currency = $2",
            &[&provider, &currency.code()],
        )?;
        Ok(row.map(|row| AccountId(row.get(0))))
    }

    fn open_clearing(&self, provider: &str, currency: Currency) -> Result<AccountId, ApiError> {
        let row = self.tx().query_one(
            "INSERT INTO accounts (kind, provider, currency) VALUES ('clearing', $1, $2) RETURNING id",
            &[&provider, &currency.code()],
        )?;
        Ok(AccountId(row.get(0)))
    }

    fn lock_accounts(&self, accounts: &[AccountId]) -> Result<(), ApiError> {
        if self.held.holds(accounts) {
            return Ok(());
        }
        let ids: Vec<i64> = accounts.iter().map(|account| account.0).collect();
        self.tx().execute(
            "SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
            &[&ids],
        )?;
        self.held.locked(accounts);
        Ok(())
    }

    fn hold_wallets(&self, users: &[UserId], currency: Currency) -> Result<(), ApiError> {
        let ids: Vec<i64> = users.iter().map(|user| user.0).collect();
        let rows = self.tx().query(
            "SELECT id, user_id FROM accounts
             WHERE kind = 'wallet' AND currency = $2 AND user_id = ANY($1)
             ORDER BY id FOR NO KEY UPDATE",
            &[&ids, &currency.code()],
        )?;
        for row in rows {
            let id = AccountId(row.get(0));
            self.held.found_wallet(UserId(row.get(1)), currency, id);
            self.held.locked(&[id]);
        }
        Ok(())
    }

    fn account(&self, account: AccountId) -> Result<(AccountKind, i64), ApiError> {
        let row = self.tx().query_one(
            "SELECT kind, balance_minor FROM accounts WHERE id = $1",
            &[&account.0],
        )?;
        Ok((account_kind(row.get(0))?, row.get(1)))
    }

    fn balances(&self, user: UserId) -> Result<Vec<Money>, ApiError> {
        self.tx()
            .query(
                "SELECT currency, balance_minor FROM accounts WHERE kind = 'wallet' AND user_id = $1
                 ORDER BY currency",
                &[&user.0],
            )?
            .iter()
            .map(|row| Ok(Money::new(row.get(1), currency_of(row.get(0))?)))
            .collect()
    }

    fn post(&self, posting: &Posting, at: TimestampMs) -> Result<Posted, ApiError> {
        // One statement, one round trip, for what took five. Each update is its own
        // condition; the credit and the transfer happen only if the step before did (the
        // statements of a WITH all run, whatever reads them). The accounts differ, so the
        // credit does not need to see the debit.
        let row = self.tx().query_one(
            "WITH debit AS (
                 UPDATE accounts SET balance_minor = balance_minor - $7
                 WHERE id = $5
                   AND (kind <> 'wallet' OR balance_minor >= $7)
                   AND balance_minor::NUMERIC - $7 >= -9223372036854775808
                 RETURNING balance_minor),
             credit AS (
                 UPDATE accounts SET balance_minor = balance_minor + $7
                 WHERE id = $6 AND EXISTS (SELECT FROM debit)
                   AND balance_minor::NUMERIC + $7 <= 9223372036854775807
                 RETURNING balance_minor),
             transfer AS (
                 INSERT INTO transfers (initiator_id, idempotency_key, fingerprint, kind,
                     from_account, to_account, amount_minor, currency, memo, conversation_id,
                     request_id, invoice_id, created_at_ms)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
                 WHERE EXISTS (SELECT FROM credit)
                 RETURNING id),
             entries AS (
                 INSERT INTO entries (transfer_id, account_id, amount_minor)
                 SELECT id, $5, -$7 FROM transfer UNION ALL SELECT id, $6, $7 FROM transfer)
             SELECT (SELECT balance_minor FROM debit), (SELECT balance_minor FROM credit),
                    (SELECT id FROM transfer)",
            &[
                &posting.initiator.map(|u| u.0),
                &posting.key.0,
                &posting.fingerprint,
                &posting.kind.as_str(),
                &posting.from.0,
                &posting.to.0,
                &posting.amount.amount_minor,
                &posting.amount.currency.code(),
                &posting.memo,
                &posting.conversation_id.map(|c| c.0),
                &posting.request_id.map(|r| r.0),
                &posting.invoice_id.map(|i| i.0),
                &at.0,
            ],
        )?;
        let debited: Option<i64> = row.get(0);
        let credited: Option<i64> = row.get(1);
        let transfer: Option<i64> = row.get(2);
        Ok(match (debited, credited, transfer) {
            (Some(debited), Some(_), Some(id)) => Posted::Moved {
                transfer: TransferId(id),
                debited,
            },
            (Some(_), _, _) => Posted::CreditRefused,
            (None, _, _) => Posted::DebitRefused,
        })
    }

    fn transfer_by_key(
        &self,
        initiator: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<(TransferId, String)>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id, fingerprint FROM transfers WHERE initiator_id = $1 AND idempotency_key = $2",
            &[&initiator.0, &key.0],
        )?;
        Ok(row.map(|row| (TransferId(row.get(0)), row.get(1))))
    }

    fn transfer(&self, id: TransferId) -> Result<Transfer, ApiError> {
        let row = self.tx().query_one(
            "SELECT t.kind, t.amount_minor, t.currency, t.memo, t.conversation_id, t.request_id,
                    t.created_at_ms, fu.id, fu.username, tu.id, tu.username
             FROM transfers t
             JOIN accounts fa ON fa.id = t.from_account
             JOIN accounts ta ON ta.id = t.to_account
             LEFT JOIN users fu ON fu.id = fa.user_id
             JOIN users tu ON tu.id = ta.user_id
             WHERE t.id = $1",
            &[&id.0],
        )?;
        TransferRow {
            kind: row.get(0),
            amount: row.get(1),
            currency: row.get(2),
            memo: row.get(3),
            conversation: row.get(4),
            request: row.get(5),
            at: row.get(6),
            from: row.get::<_, Option<i64>>(7).zip(row.get(8)),
            to: (row.get(9), row.get(10)),
        }
        .into_transfer(id)
    }

    fn refunded_invoice(&self, id: TransferId) -> Result<InvoiceId, ApiError> {
        let row = self
            .tx()
            .query_one("SELECT invoice_id FROM transfers WHERE id = $1", &[&id.0])?;
        Ok(InvoiceId(row.get(0)))
    }

    fn balance_after(&self, id: TransferId) -> Result<Money, ApiError> {
        let row = self.tx().query_one(
            "SELECT (SELECT SUM(e2.amount_minor) FROM entries e2
                     WHERE e2.account_id = e.account_id AND e2.id <= e.id)::BIGINT, t.currency
             FROM entries e JOIN transfers t ON t.id = e.transfer_id
             WHERE e.transfer_id = $1 AND e.account_id = t.from_account",
            &[&id.0],
        )?;
        Ok(Money::new(row.get(0), currency_of(row.get(1))?))
    }

    fn paid_out_since(&self, wallet: AccountId, since: TimestampMs) -> Result<i64, ApiError> {
        let row = self.tx().query_one(
            "SELECT COALESCE(SUM(amount_minor), 0)::BIGINT FROM transfers
             WHERE from_account = $1 AND created_at_ms >= $2",
            &[&wallet.0, &since.0],
        )?;
        Ok(row.get(0))
    }

    fn claim_key(
        &self,
        user: UserId,
        key: &IdempotencyKey,
        kind: &'static str,
    ) -> Result<Option<String>, ApiError> {
        let mut tx = self.tx();
        let inserted = tx.execute(
            "INSERT INTO idempotency_keys (user_id, idempotency_key, kind) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, idempotency_key) DO NOTHING",
            &[&user.0, &key.0, &kind],
        )?;
        if inserted == 1 {
            return Ok(None);
        }
        let row = tx.query_one(
            "SELECT kind FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2",
            &[&user.0, &key.0],
        )?;
        Ok(Some(row.get(0)))
    }

    fn statement_lines(
        &self,
        user: UserId,
        before: TransferId,
        limit: u32,
    ) -> Result<Vec<StatementLine>, ApiError> {
        self.tx()
            .query(
                "WITH mine AS (
                     SELECT e.transfer_id, e.amount_minor, a.currency,
                            (SUM(e.amount_minor) OVER (PARTITION BY e.account_id ORDER BY e.id))::BIGINT
                                AS balance_after
                     FROM entries e JOIN accounts a ON a.id = e.account_id
                     WHERE a.kind = 'wallet' AND a.user_id = $1)
                 SELECT t.id, t.kind, t.created_at_ms, mine.amount_minor, mine.currency,
                        mine.balance_after, t.memo, ou.id, ou.username
                 FROM mine JOIN transfers t ON t.id = mine.transfer_id
                 JOIN entries oe ON oe.transfer_id = t.id AND oe.amount_minor = -mine.amount_minor
                 JOIN accounts oa ON oa.id = oe.account_id
                 LEFT JOIN users ou ON ou.id = oa.user_id
                 WHERE t.id < $2
                 ORDER BY t.id DESC LIMIT $3",
                &[&user.0, &before.0, &(i64::from(limit) + 1)],
            )?
            .iter()
            .map(|row| {
                StatementRow {
                    id: row.get(0),
                    kind: row.get(1),
                    at: row.get(2),
                    amount: row.get(3),
                    currency: row.get(4),
                    balance: row.get(5),
                    memo: row.get(6),
                    counterparty: row.get::<_, Option<i64>>(7).zip(row.get(8)),
                }
                .into_line()
            })
            .collect()
    }
}
