//! A file in a real terminal (tmux): alice sends bob a file from the command line, bob's TUI
//! shows its card, and Enter on it saves it to his download folder; then bob sends one back
//! with /attach. Skipped where tmux is missing.

use crate::common::process::{
    QUID, ServerProcess, alice_and_bob_config as write_config, assert_ok as ok, quid,
};
use crate::common::tmux::{Tmux, tmux_missing};

#[test]
fn a_file_shows_as_a_card_and_enter_saves_it_to_the_download_folder() {
    if tmux_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server.db"), "127.0.0.1:0");
    let config = write_config(dir.path(), server.addr.port());
    for name in ["alice", "bob"] {
        ok(quid(
            &config,
            &["--profile", name, "register", "--password-stdin"],
            "a good password\n",
        ));
    }
    let receipt = dir.path().join("receipt.txt");
    std::fs::write(&receipt, "coffee 4.50\n").unwrap();
    let path = receipt.display().to_string();
    ok(quid(
        &config,
        &[
            "--profile",
            "alice",
            "send",
            "@bob",
            "--file",
            &path,
            "the receipt",
        ],
        "",
    ));

    // Bob's home is the test's folder: his download folder is in it.
    let home = dir.path().join("bob-home");
    std::fs::create_dir(&home).unwrap();
    let command = format!(
        "HOME={} XDG_CONFIG_HOME={}/.config QUID_CONFIG={} {QUID} --profile bob",
        home.display(),
        home.display(),
        config.display()
    );
    let bob = Tmux::start("bob-files", &command);
    bob.wait_for("alice's file", |s| {
        s.contains("receipt.txt · 12 B · text/plain") && s.contains("the receipt")
    });
    bob.keys(&["C-s"]);
    bob.keys(&["Enter"]);
    let saved = home.join("Downloads").join("receipt.txt");
    bob.wait_for("the file saved", |s| s.contains("saved to"));
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "coffee 4.50\n");

    // Bob answers with a file of his own.
    let answer = home.join("thanks.txt");
    std::fs::write(&answer, "thanks!\n").unwrap();
    bob.keys(&["/attach ~/thanks.txt paid you back", "Enter"]);
    bob.wait_for("bob's file, sent", |s| s.contains("thanks.txt · 8 B"));
    let history = quid(&config, &["--profile", "alice", "history", "@bob"], "");
    let history = String::from_utf8(history.stdout).unwrap();
    assert!(
        history.contains("bob: [file: thanks.txt, 8 B] paid you back"),
        "{history}"
    );
}
