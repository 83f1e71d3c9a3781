//! Top-ups and withdrawals from the command line, with every part a process of its own: the
//! sandbox partner (`quid partner-sandbox`), the server configured by a partners file
//! (`quid serve --partners`), and the commands a person types.

use crate::common::PATIENCE;
use crate::common::partner::checkout;
use crate::common::process::{QUID, ServerProcess, assert_ok, quid};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// `quid partner-sandbox` on a free port, without webhooks: the server learns outcomes by
/// asking (`--partner-recheck 1`). Killed on drop.
struct SandboxProcess {
    child: Child,
    base: String,
}

impl SandboxProcess {
    fn start() -> SandboxProcess {
        let mut child = Command::new(QUID)
            .args([
                "partner-sandbox",
                "--listen",
                "127.0.0.1:0",
                "--settle-after",
                "0",
            ])
            .env("QUID_PARTNER_SECRET", "cli-secret")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the sandbox starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("unexpected first line from the sandbox: {line:?}"))
            .to_owned();
        SandboxProcess { child, base }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_files(dir: &Path, sandbox: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("partner-secret"), "cli-secret\n").unwrap();
    let partners = format!("[sandbox]\nurl = \"{sandbox}\"\nsecret_file = \"partner-secret\"\n");
    std::fs::write(dir.join("partners.toml"), partners).unwrap();
    dir.join("partners.toml")
}

fn stdout(output: std::process::Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_ok(output);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topup_withdraw_and_topups_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = SandboxProcess::start();
    let partners = write_files(dir.path(), &sandbox.base);
    let server = ServerProcess::start_with(
        &dir.path().join("server.db"),
        "127.0.0.1:0",
        &[
            "--partners",
            partners.to_str().unwrap(),
            "--partner-recheck",
            "1",
        ],
        None,
    );
    let config = dir.path().join("config.toml");
    let profile = format!(
        "[profiles.alice]\nserver = \"ws://{}\"\nusername = \"alice\"\ndata_dir = \"alice\"\n\
         bank_account = \"DE89 3704 0044 0532 0130 00\"\n",
        server.addr
    );
    std::fs::write(&config, profile).unwrap();
    stdout(quid(
        &config,
        &["register", "--password-stdin"],
        "alice's password\n",
    ));

    // `quid topup` prints where to pay, then waits until it is paid.
    let mut topup = Command::new(QUID)
        .args(["topup", "12", "EUR"])
        .env("QUID_CONFIG", &config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut lines = BufReader::new(topup.stdout.take().unwrap());
    lines.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("top-up 1 of €12.00 via sandbox: pay at http://"),
        "{first}"
    );
    let url = first.rsplit(' ').next().unwrap().trim().to_owned();
    let (status, _) = checkout(&url, quid::sandbox::book::CARD_SUCCEEDS, "pay").await;
    assert_eq!(status, 200);
    let mut rest = String::new();
    lines.read_line(&mut rest).unwrap();
    assert!(topup.wait().unwrap().success());
    assert_eq!(
        rest.trim(),
        "top-up 1 succeeded: €12.00 added; balance €12.00"
    );

    // A withdrawal the bank refuses (amounts ending in 13 cents) comes back.
    let said = stdout(quid(&config, &["withdraw", "2.13", "--yes"], ""));
    assert!(
        said.starts_with("withdrawal 2 of €2.13 to DE•••3000: pending"),
        "{said}"
    );
    let deadline = Instant::now() + PATIENCE;
    let listed = loop {
        let json = stdout(quid(&config, &["topups", "--json"], ""));
        let fundings: serde_json::Value = serde_json::from_str(&json).unwrap();
        if fundings[0]["status"] != "pending" {
            break fundings;
        }
        assert!(
            Instant::now() < deadline,
            "the withdrawal never settled: {json}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(listed[0]["status"], "failed");
    assert_eq!(listed[1]["status"], "succeeded");
    assert_eq!(stdout(quid(&config, &["balance"], "")).trim(), "€12.00");
    let text = stdout(quid(&config, &["topups"], ""));
    assert!(
        text.contains("withdrawal") && text.contains("account closed"),
        "{text}"
    );

    // Refusals say why, in one line.
    let yen = quid(&config, &["topup", "500", "JPY"], "");
    assert!(!yen.status.success());
    let said = String::from_utf8_lossy(&yen.stderr);
    assert!(said.contains("sandbox does not take JPY"), "{said}");
    let no_yes = quid(&config, &["withdraw", "1"], "");
    assert!(
        !no_yes.status.success(),
        "no terminal, no --yes: nothing withdrawn"
    );

    // A partners file with a mistake stops the server before it starts, pointing at it.
    std::fs::write(
        dir.path().join("bad.toml"),
        "[sandbox]\nurl = \"http://x\"\nsecret_env = \"QUID_NOT_SET_ANYWHERE\"\n",
    )
    .unwrap();
    let bad = Command::new(QUID)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("other.db"))
        .arg("--partners")
        .arg(dir.path().join("bad.toml"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("bad.toml:3:14: sandbox.secret_env: the environment variable QUID_NOT_SET_ANYWHERE is not set"), "{said}");
}
