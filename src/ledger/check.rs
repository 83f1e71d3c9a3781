//! `check-ledger`: verifies the invariants listed in `ledger/mod.rs` through the store's
//! audit queries (`store::audit`), reading only, and prints what it found.

pub use crate::store::audit::Finding;

/// Most violations listed per invariant; the count says if there were more.
const MAX_LISTED: usize = 20;

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
