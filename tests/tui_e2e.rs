//! `quid demo` in a real terminal (tmux): type a message, read the bot's reply off the screen,
//! quit, and find the shell usable. Skipped, with a message, where tmux is missing.

mod common;

use common::process::QUID;
use common::tmux::{Tmux, tmux_missing};

#[test]
fn demo_answers_a_message_and_quits_cleanly() {
    if tmux_missing() {
        return;
    }
    let command = format!("{QUID} demo; echo quid-exited-$?");
    let tmux = Tmux::start("demo", &command);
    tmux.wait_for("the demo to connect", |s| {
        s.contains("● connected") && s.contains("@bob")
    });

    tmux.keys(&["hello from the end-to-end test", "Enter"]);
    let screen = tmux.wait_for("bob's reply", |s| s.contains("bob: hi alice!"));
    assert!(
        screen.contains("alice: hello from the end-to-end test"),
        "{screen}"
    );

    tmux.keys(&["F1"]);
    tmux.wait_for("the help overlay", |s| {
        s.contains("quid help") && s.contains("quit quid")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("help to close", |s| !s.contains("quid help"));

    tmux.keys(&["C-q"]);
    tmux.wait_for("quid to exit", |s| s.contains("quid-exited-0"));
    tmux.keys(&["echo shell-ok", "Enter"]);
    tmux.wait_for("a usable shell", |s| {
        s.lines().any(|l| l.trim() == "shell-ok")
    });
}
