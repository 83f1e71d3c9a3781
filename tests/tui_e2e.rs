//! `quid demo` in a real terminal (tmux): type a message, read the bot's reply off the screen,
//! quit, and find the shell usable. Skipped, with a message, where tmux is missing.

use std::process::Command;
use std::time::{Duration, Instant};

const QUID: &str = env!("CARGO_BIN_EXE_quid");
/// Longest wait for something to appear on screen.
const PATIENCE: Duration = Duration::from_secs(30);

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Option<Tmux> {
        let socket = format!("quid-e2e-{}", std::process::id());
        let started = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "100",
                "-y",
                "30",
                "-s",
                "e2e",
            ])
            .status()
            .ok()?;
        assert!(started.success(), "tmux could not start a session");
        let tmux = Tmux { socket };
        tmux.keys(&[command, "Enter"]);
        Some(tmux)
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["-L", &self.socket, "send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    fn screen(&self) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "e2e"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Polls the screen until `wanted` holds; panics with the screen after `PATIENCE`.
    fn wait_for(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if wanted(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn demo_answers_a_message_and_quits_cleanly() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed; install it to run the terminal end-to-end test");
        return;
    }
    let command = format!("{QUID} demo; echo quid-exited-$?");
    let tmux = Tmux::start(&command).expect("tmux runs");
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
