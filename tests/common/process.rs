//! `quid` as a separate process: a server that can be killed with SIGKILL, and CLI runs.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub const QUID: &str = env!("CARGO_BIN_EXE_quid");

/// A `quid serve` child process; killed (SIGKILL) when dropped.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `quid serve` on `listen` (port 0 for any) and waits for it to say where it listens.
    pub fn start(db: &(impl super::Db + ?Sized), listen: &str) -> ServerProcess {
        Self::start_logging(db, listen, None)
    }

    /// As [`ServerProcess::start`]; with `log`, the server logs everything (debug) to that file.
    pub fn start_logging(
        db: &(impl super::Db + ?Sized),
        listen: &str,
        log: Option<&Path>,
    ) -> ServerProcess {
        Self::start_with(db, listen, &[], log)
    }

    /// As [`ServerProcess::start_logging`], with more `quid serve` arguments.
    pub fn start_with(
        db: &(impl super::Db + ?Sized),
        listen: &str,
        extra: &[&str],
        log: Option<&Path>,
    ) -> ServerProcess {
        Self::start_at_level(db, listen, extra, log, "debug")
    }

    /// As [`ServerProcess::start_with`], logging at `level` (RUST_LOG) when `log` is given.
    pub fn start_at_level(
        db: &(impl super::Db + ?Sized),
        listen: &str,
        extra: &[&str],
        log: Option<&Path>,
        level: &str,
    ) -> ServerProcess {
        let (level, stderr) = match log {
            Some(path) => (level, Stdio::from(std::fs::File::create(path).unwrap())),
            None => ("warn", Stdio::null()),
        };
        let mut command = Command::new(QUID);
        command
            .args(["serve", "--listen", listen, "--db"])
            .arg(db.location().to_string())
            .args(extra)
            .env("RUST_LOG", level)
            .stderr(stderr);
        Self::from_command(command)
    }

    /// Runs `command`, a `quid serve` however started, and waits for it to say where it
    /// listens.
    pub fn from_command(mut command: Command) -> ServerProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("quid serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        // "ws://ADDR" or "wss://ADDR".
        let addr = line
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| {
                panic!("quid serve did not say where it listens ({line:?}); see its stderr")
            });
        ServerProcess { child, addr }
    }

    /// SIGTERM, then waits: the graceful path a service manager takes.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }

    /// SIGKILL: no shutdown, no flush; only what was committed survives.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `quid` with `config` as its config file, `stdin` piped in.
pub fn quid(config: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(QUID)
        .args(args)
        .env("QUID_CONFIG", config)
        .env_remove("QUID_PROFILE")
        .env_remove("QUID_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("quid starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Asserts a `quid` run succeeded, showing its stderr if not.
pub fn assert_ok(output: Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A config with two profiles, alice and bob, on the server at `port` (no bell: the
/// terminal tests read screens, not sounds); returns its path.
pub fn alice_and_bob_config(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let profile = |name: &str| {
        format!(
            "[profiles.{name}]\nserver = \"ws://127.0.0.1:{port}\"\nusername = \"{name}\"\ndata_dir = \"{name}\"\nnotify_bell = false\n"
        )
    };
    std::fs::write(&path, format!("{}\n{}", profile("alice"), profile("bob"))).unwrap();
    path
}
