//! `check-ledger`: verifies the invariants listed in `ledger/mod.rs`, reading only.
//! Each check is one query that returns the rows breaking it; an empty result is a pass.

use crate::store::Cached;
use rusqlite::Connection;

/// One invariant and what was found against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub invariant: &'static str,
    pub violations: Vec<String>,
}

/// Most violations listed per invariant; the count says if there were more.
const MAX_LISTED: usize = 20;

const CHECKS: &[(&str, &str)] = &[
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
];

/// Runs every check.
pub fn check(conn: &Connection) -> rusqlite::Result<Vec<Finding>> {
    CHECKS
        .iter()
        .map(|(invariant, sql)| {
            let violations = conn
                .prepare(sql)?
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Finding {
                invariant,
                violations,
            })
        })
        .collect()
}

/// Totals for the report: (accounts, transfers, requests, invoices).
pub fn totals(conn: &Connection) -> rusqlite::Result<(i64, i64, i64, i64)> {
    conn.query_row_cached(
        "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM transfers),
                (SELECT COUNT(*) FROM payment_requests), (SELECT COUNT(*) FROM invoices)",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    )
}

/// The report as printed: one line per invariant, violations listed under it.
pub fn report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        let mark = if finding.violations.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        out.push_str(&format!("{mark} {}\n", finding.invariant));
        for violation in finding.violations.iter().take(MAX_LISTED) {
            out.push_str(&format!("       {violation}\n"));
        }
        if finding.violations.len() > MAX_LISTED {
            out.push_str(&format!(
                "       … and {} more\n",
                finding.violations.len() - MAX_LISTED
            ));
        }
    }
    out
}
