//! The ledger's audit (`quid admin check-ledger`) as queries: one per invariant listed in
//! `ledger/mod.rs`, each returning a line per row that breaks it. Read only.

use crate::protocol::ApiError;

/// One invariant and what was found against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub invariant: &'static str,
    pub violations: Vec<String>,
}

/// How much the audit looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerTotals {
    pub accounts: i64,
    pub transfers: i64,
    pub requests: i64,
    pub invoices: i64,
}

pub trait Audit {
    /// Every invariant with the rows that break it (none: it holds).
    fn audit_ledger(&self) -> Result<Vec<Finding>, ApiError>;
    /// How many accounts, transfers, payment requests and invoices there are.
    fn ledger_totals(&self) -> Result<LedgerTotals, ApiError>;
}

pub(super) const CHECKS: &[(&str, &str)] = &[
    (
        "every currency sums to zero",
        "SELECT currency || ': accounts sum to ' || SUM(balance_minor) FROM accounts
         GROUP BY currency HAVING SUM(balance_minor) != 0",
    ),
    (
        "no wallet is negative",
        "SELECT 'account ' || id || ' (user ' || user_id || ', ' || currency || ') holds ' || balance_minor
         FROM accounts WHERE kind = 'wallet' AND balance_minor < 0",
    ),
    (
        "every balance equals the sum of its entries",
        "SELECT 'account ' || a.id || ': balance ' || a.balance_minor || ', entries ' || COALESCE(SUM(e.amount_minor), 0)
         FROM accounts a LEFT JOIN entries e ON e.account_id = a.id
         GROUP BY a.id HAVING a.balance_minor != COALESCE(SUM(e.amount_minor), 0)",
    ),
    (
        "every transfer balances: one debit from its source, one credit to its destination",
        "SELECT 'transfer ' || t.id || ' has ' || COUNT(e.id) || ' entries summing to ' || COALESCE(SUM(e.amount_minor), 0)
         FROM transfers t LEFT JOIN entries e ON e.transfer_id = t.id
         GROUP BY t.id
         HAVING COUNT(e.id) != 2
             OR COALESCE(SUM(e.amount_minor), 0) != 0
             OR SUM(CASE WHEN e.account_id = t.from_account AND e.amount_minor = -t.amount_minor THEN 1 ELSE 0 END) != 1
             OR SUM(CASE WHEN e.account_id = t.to_account AND e.amount_minor = t.amount_minor THEN 1 ELSE 0 END) != 1",
    ),
    (
        "every transfer stays in one currency",
        "SELECT 'transfer ' || t.id || ' is in ' || t.currency || ' between accounts in ' || fa.currency || ' and ' || ta.currency
         FROM transfers t JOIN accounts fa ON fa.id = t.from_account JOIN accounts ta ON ta.id = t.to_account
         WHERE fa.currency != t.currency OR ta.currency != t.currency",
    ),
    (
        "every paid request has exactly one transfer, of its amount, payer to requester",
        "SELECT 'request ' || r.id || ' is paid with ' || COUNT(t.id) || ' transfers'
         FROM payment_requests r LEFT JOIN transfers t ON t.request_id = r.id
             AND t.amount_minor = r.amount_minor AND t.currency = r.currency
             AND t.id = r.transfer_id
         WHERE r.status = 'paid'
         GROUP BY r.id HAVING COUNT(t.id) != 1
         UNION ALL
         SELECT 'request ' || r.id || ' is paid by a transfer not from its payer to its requester'
         FROM payment_requests r JOIN transfers t ON t.id = r.transfer_id
         JOIN accounts fa ON fa.id = t.from_account JOIN accounts ta ON ta.id = t.to_account
         WHERE fa.user_id != r.payer_id OR ta.user_id != r.requester_id",
    ),
    (
        "a request that is not paid has no transfer",
        "SELECT 'request ' || r.id || ' is ' || r.status || ' but has ' || COUNT(t.id) || ' transfers'
         FROM payment_requests r JOIN transfers t ON t.request_id = r.id
         WHERE r.status != 'paid' GROUP BY r.id",
    ),
    (
        "every paid invoice has exactly one payment, of its total; an unpaid one has none",
        "SELECT 'invoice ' || i.id || ' is paid with ' || COUNT(t.id) || ' payments totalling ' || COALESCE(SUM(t.amount_minor), 0)
         FROM invoices i LEFT JOIN transfers t ON t.invoice_id = i.id AND t.kind = 'invoice'
         WHERE i.status = 'paid'
         GROUP BY i.id HAVING COUNT(t.id) != 1 OR SUM(t.amount_minor) != i.total_minor
         UNION ALL
         SELECT 'invoice ' || i.id || ' is ' || i.status || ' but has a payment'
         FROM invoices i JOIN transfers t ON t.invoice_id = i.id AND t.kind = 'invoice'
         WHERE i.status != 'paid'",
    ),
    (
        "refunds never exceed the payment and add up to what the invoice records",
        "SELECT 'invoice ' || i.id || ': refunds ' || COALESCE(SUM(t.amount_minor), 0) || ', recorded '
                || i.refunded_minor || ', paid ' || i.total_minor
         FROM invoices i LEFT JOIN transfers t ON t.invoice_id = i.id AND t.kind = 'refund'
         GROUP BY i.id
         HAVING COALESCE(SUM(t.amount_minor), 0) != i.refunded_minor
             OR i.refunded_minor > i.total_minor
             OR (i.status != 'paid' AND COALESCE(SUM(t.amount_minor), 0) > 0)",
    ),
    (
        "a paid request's transfers are counted once",
        "SELECT 'request ' || request_id || ' has ' || COUNT(*) || ' transfers'
         FROM transfers WHERE request_id IS NOT NULL GROUP BY request_id HAVING COUNT(*) > 1",
    ),
    (
        "a succeeded top-up has one credit of its amount, any other top-up none",
        "SELECT 'top-up ' || f.id || ' is ' || f.status || ' with ' || COUNT(t.id) || ' credits of its amount'
         FROM fundings f LEFT JOIN transfers t ON t.id = f.transfer_id AND t.kind = 'topup'
             AND t.amount_minor = f.amount_minor AND t.currency = f.currency
         WHERE f.kind = 'topup'
         GROUP BY f.id, f.status
         HAVING COUNT(t.id) != CASE WHEN f.status = 'succeeded' THEN 1 ELSE 0 END
         UNION ALL
         SELECT 'transfer ' || t.id || ' credits a top-up that did not succeed'
         FROM transfers t WHERE t.kind = 'topup' AND NOT EXISTS
             (SELECT 1 FROM fundings f WHERE f.transfer_id = t.id AND f.status = 'succeeded')",
    ),
    (
        "a payout holds its amount once, and a failed one has it back once",
        "SELECT 'payout ' || f.id || ' has no debit of its amount'
         FROM fundings f LEFT JOIN transfers t ON t.id = f.transfer_id AND t.kind = 'payout'
             AND t.amount_minor = f.amount_minor AND t.currency = f.currency
         WHERE f.kind = 'payout' AND t.id IS NULL
         UNION ALL
         SELECT 'payout ' || f.id || ' is ' || f.status || ' with ' || COUNT(t.id) || ' returns'
         FROM fundings f LEFT JOIN transfers t ON t.id = f.return_transfer_id
             AND t.kind = 'payout_return' AND t.amount_minor = f.amount_minor
         WHERE f.kind = 'payout'
         GROUP BY f.id, f.status
         HAVING COUNT(t.id) != CASE WHEN f.status = 'failed' THEN 1 ELSE 0 END
         UNION ALL
         SELECT 'transfer ' || t.id || ' (' || t.kind || ') belongs to no payout'
         FROM transfers t WHERE t.kind IN ('payout', 'payout_return') AND NOT EXISTS
             (SELECT 1 FROM fundings f WHERE f.transfer_id = t.id OR f.return_transfer_id = t.id)",
    ),
];
