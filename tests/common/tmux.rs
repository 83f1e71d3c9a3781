//! Driving quid in a real terminal: a tmux server of the test's own, keys in, screen out.

use std::process::Command;
use std::time::{Duration, Instant};

/// Longest wait for something to appear on screen.
const PATIENCE: Duration = Duration::from_secs(30);

/// True (after saying so) when tmux is not installed: the caller skips its test.
pub fn tmux_missing() -> bool {
    let missing = Command::new("tmux").arg("-V").output().is_err();
    if missing {
        eprintln!(
            "SKIPPED: tmux is not installed; install it to run the terminal end-to-end tests"
        );
    }
    missing
}

/// One tmux session on a server (socket) of its own, killed on drop.
pub struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// Starts a 100x30 terminal named `name` running a shell, and types `command` into it.
    pub fn start(name: &str, command: &str) -> Tmux {
        // Unique within the process too: tests running side by side may both name a terminal
        // "alice", and a second session of one name on one server fails to start.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let nth = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let socket = format!("quid-e2e-{}-{nth}-{name}", std::process::id());
        // CI may run without a TERM; tmux needs one to describe the terminal inside.
        let started = Command::new("tmux")
            .env("TERM", "xterm-256color")
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
                name,
            ])
            .status()
            .expect("tmux runs");
        assert!(started.success(), "tmux could not start a session");
        let tmux = Tmux {
            socket,
            session: name.to_owned(),
        };
        tmux.keys(&[command, "Enter"]);
        tmux
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["-L", &self.socket, "send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    /// Pastes `text` as a terminal would: bracketed (the app asked for it), and with tmux's
    /// own line ends (CR), not the LFs given here.
    pub fn paste(&self, text: &str) {
        let tmux = |args: &[&str]| {
            let mut all = vec!["-L", &self.socket];
            all.extend_from_slice(args);
            assert!(Command::new("tmux").args(&all).status().unwrap().success());
        };
        tmux(&["set-buffer", "-b", "quid-paste", text]);
        tmux(&[
            "paste-buffer",
            "-p",
            "-b",
            "quid-paste",
            "-t",
            &self.session,
        ]);
    }

    pub fn screen(&self) -> String {
        let output = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-t",
                &self.session,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Polls the screen until `wanted` holds; panics with the screen after a while.
    pub fn wait_for(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
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
