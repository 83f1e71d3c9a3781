//! Two people, two terminals: alice asks bob for money from her TUI, bob pays it from his,
//! and both screens show the paid card and the new balances. Skipped where tmux is missing.

use crate::common::process::{
    QUID, ServerProcess, alice_and_bob_config as write_config, assert_ok as ok, quid,
};
use crate::common::tmux::{Tmux, tmux_missing};

/// The screen's last line: quid's status bar.
fn status_bar(screen: &str) -> &str {
    screen.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("")
}

#[test]
fn alice_asks_bob_pays_from_his_tui_and_both_see_it() {
    if tmux_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let config = write_config(dir.path(), server.addr.port());
    for name in ["alice", "bob"] {
        ok(quid(
            &config,
            &["--profile", name, "register", "--password-stdin"],
            "a good password\n",
        ));
    }
    let db_text = db.display().to_string();
    ok(quid(
        &config,
        &["admin", "--db", &db_text, "mint", "bob", "50", "EUR"],
        "",
    ));
    ok(quid(
        &config,
        &["--profile", "alice", "send", "@bob", "lunch was great"],
        "",
    ));

    let open = |name: &str| {
        let command = format!("QUID_CONFIG={} {QUID} --profile {name}", config.display());
        Tmux::start(name, &command)
    };
    let alice = open("alice");
    let bob = open("bob");
    alice.wait_for("alice connected", |s| {
        s.contains("● connected") && s.contains("lunch was great")
    });
    bob.wait_for("bob connected with €50", |s| {
        s.contains("● connected") && s.contains("€50.00")
    });

    // alice: F3, amount, memo, confirm, close the receipt.
    alice.keys(&["F3"]);
    alice.wait_for("the request modal", |s| s.contains("Ask for money"));
    alice.keys(&["7.5", "Enter", "pizza", "Enter"]);
    alice.wait_for("the review", |s| s.contains("Enter confirm"));
    alice.keys(&["Enter"]);
    alice.wait_for("the receipt", |s| s.contains("Asked bob for €7.50"));
    alice.keys(&["Enter"]);

    // bob: the card arrives; Tab picks it, Enter reviews, Enter pays.
    bob.wait_for("the request card", |s| s.contains("asks you for €7.50"));
    bob.keys(&["Tab"]);
    bob.wait_for("the card picked", |s| s.contains("Enter pays"));
    bob.keys(&["Enter"]);
    bob.wait_for("the review", |s| {
        s.contains("Pay a request") && s.contains("€42.50")
    });
    bob.keys(&["Enter"]);
    bob.wait_for("the receipt", |s| s.contains("Paid €7.50 to alice"));
    bob.keys(&["Enter"]);

    bob.wait_for("bob's card paid, balance down", |s| {
        s.contains("paid ✓") && status_bar(s).contains("€42.50")
    });
    alice.wait_for("alice's card paid, balance up", |s| {
        s.contains("paid ✓") && status_bar(s).contains("€7.50")
    });

    for tmux in [&alice, &bob] {
        tmux.keys(&["C-q"]);
    }
    drop(server);
    let check = quid(&config, &["admin", "--db", &db_text, "check-ledger"], "");
    assert!(String::from_utf8_lossy(&check.stdout).contains("ledger OK"));
}
