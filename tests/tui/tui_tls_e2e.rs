//! The TUI over TLS, in a real terminal (tmux): a server with a self-signed certificate, a
//! profile that names it as its ca_file, the TUI connected; then the session is revoked from
//! the command line, the TUI says so within a second or two and asks for the password, takes
//! it in place (a wrong one first), is connected again, and Ctrl+Q still quits cleanly.
//! Skipped where tmux is missing.

use crate::common::process::{QUID, ServerProcess, assert_ok as ok, quid};
use crate::common::tmux::{Tmux, tmux_missing};

#[test]
fn the_tui_connects_over_tls_hears_its_session_revoked_and_logs_in_again() {
    if tmux_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    // As `openssl req -x509` makes it: self-signed and marked as a CA.
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key_pair).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key_pair.serialize_pem()).unwrap();
    let db = dir.path().join("server.db");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let server = ServerProcess::start_with(
        &db,
        "127.0.0.1:0",
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
        None,
    );
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.alice]\nserver = \"wss://localhost:{}\"\nca_file = \"cert.pem\"\nusername = \"alice\"\ndata_dir = \"alice\"\nnotify_bell = false\n",
            server.addr.port()
        ),
    )
    .unwrap();
    ok(quid(
        &config,
        &["register", "--password-stdin"],
        "a good password\n",
    ));

    let command = format!(
        "QUID_CONFIG={} {QUID}; echo quid-exited-$?",
        config.display()
    );
    let tmux = Tmux::start("tls", &command);
    tmux.wait_for("the TUI to connect over TLS", |s| s.contains("● connected"));

    let db_text = db.display().to_string();
    ok(quid(
        &config,
        &["admin", "--db", &db_text, "revoke", "alice"],
        "",
    ));
    tmux.wait_for("the password prompt", |s| {
        s.contains("Log in again") && s.contains("invalid or revoked token")
    });
    tmux.keys(&["-l", "not it"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the wrong password refused in the prompt", |s| {
        s.contains("Log in again") && s.contains("wrong username or password")
    });
    tmux.keys(&["-l", "a good password"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the session back", |s| {
        s.contains("● connected") && s.contains("logged in again") && !s.contains("Log in again")
    });
    tmux.keys(&["C-q"]);
    tmux.wait_for("quid to exit", |s| s.contains("quid-exited-0"));
}
