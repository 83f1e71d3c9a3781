//! The scriptable CLI, run as a new user would run it: a server process, two profiles.

use crate::common::TestDb;
use crate::common::process::{ServerProcess, quid};
use quid::protocol::requests;
use std::path::{Path, PathBuf};
use std::process::Output;

fn write_config(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join("config.toml");
    let text = format!(
        "default_profile = \"alice\"\n\n\
         [profiles.alice]\nserver = \"ws://127.0.0.1:{port}\"\nusername = \"alice\"\ndata_dir = \"alice\"\n\n\
         [profiles.bob]\nserver = \"ws://127.0.0.1:{port}\"\nusername = \"bob\"\ndata_dir = \"bob\"\n\n\
         [profiles.carol]\nserver = \"ws://127.0.0.1:{port}\"\nusername = \"carol\"\ndata_dir = \"carol\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A server and a config with two profiles, alice and bob, both registered.
pub(crate) fn alice_and_bob() -> (tempfile::TempDir, ServerProcess, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server.db"), "127.0.0.1:0");
    let config = write_config(dir.path(), server.addr.port());
    ok(quid(
        &config,
        &["register", "--password-stdin"],
        "alice's password\n",
    ));
    ok(quid(
        &config,
        &as_bob(&["register", "--password-stdin"]),
        "bob's password\n",
    ));
    (dir, server, config)
}

pub(crate) fn as_bob<'a>(args: &[&'a str]) -> Vec<&'a str> {
    as_profile("bob", args)
}

fn as_profile<'a>(profile: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    [&["--profile", profile][..], args].concat()
}

/// The message texts in `quid history --json` output.
fn message_texts(json: &str) -> Vec<String> {
    let history: serde_json::Value = serde_json::from_str(json).unwrap();
    history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn ok(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "quid failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

pub(crate) fn failed(output: Output) -> String {
    assert!(!output.status.success(), "quid should have failed");
    assert!(
        output.stdout.is_empty(),
        "a failure prints nothing on stdout"
    );
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn two_profiles_hold_a_conversation() {
    let (_dir, _server, config) = alice_and_bob();
    ok(quid(&config, &["send", "@bob", "hello bob"], ""));
    ok(quid(
        &config,
        &as_bob(&["send", "@alice", "hello alice"]),
        "",
    ));

    let history = ok(quid(&config, &as_bob(&["history", "@alice", "--json"]), ""));
    let texts = message_texts(&history);
    assert_eq!(texts, ["hello bob", "hello alice"]);

    let text = ok(quid(&config, &["history", "@bob"], ""));
    assert!(
        text.contains("alice: hello bob") && text.contains("bob: hello alice"),
        "{text}"
    );
    // What `quid history` shows counts as read; --no-mark-read only peeks.
    ok(quid(&config, &as_bob(&["send", "@alice", "one more"]), ""));
    ok(quid(&config, &["history", "@bob", "--no-mark-read"], ""));
    let list = ok(quid(&config, &["conversations"], ""));
    assert!(list.contains("@bob  1 unread"), "{list}");
    ok(quid(&config, &["history", "@bob"], ""));
    let list = ok(quid(&config, &["conversations"], ""));
    assert!(!list.contains("unread"), "{list}");

    ok(quid(&config, &["group", "create", "team", "@bob"], ""));
    ok(quid(&config, &as_bob(&["send", "#team", "hi team"]), ""));
    ok(quid(
        &config,
        &as_bob(&["send", "#team", "@alice: standup?"]),
        "",
    ));
    ok(quid(&config, &["mute", "#team"], ""));
    let list = ok(quid(&config, &["conversations"], ""));
    assert!(
        list.starts_with("#team  2 members  2 unread (1 mentions you)  muted"),
        "{list}"
    );
    ok(quid(&config, &["mute", "#team", "--off"], ""));

    ok(quid(&config, &["logout"], ""));
    let error = failed(quid(&config, &["history", "@bob"], ""));
    assert!(error.contains("not logged in"), "{error}");
    ok(quid(
        &config,
        &["login", "--password-stdin"],
        "alice's password\n",
    ));
    let error = failed(quid(&config, &["login", "--password-stdin"], "wrong\n"));
    assert!(error.contains("invalid_credentials"), "{error}");
}

#[test]
fn search_from_the_command_line_finds_filters_and_points_at_a_bad_query() {
    let (_dir, _server, config) = alice_and_bob();
    ok(quid(&config, &["send", "@bob", "Lunch next week?"], ""));
    ok(quid(
        &config,
        &as_bob(&["send", "@alice", "lunch is fine"]),
        "",
    ));
    ok(quid(&config, &["group", "create", "team", "@bob"], ""));
    ok(quid(
        &config,
        &as_bob(&["send", "#team", "team lunch on friday"]),
        "",
    ));

    let text = ok(quid(&config, &["search", "lunch"], ""));
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.contains("@bob  [") && text.contains(" alice: Lunch next week?"),
        "{text}"
    );
    assert!(
        text.contains("#team  [") && text.contains(" bob: team lunch on friday"),
        "{text}"
    );

    let json = ok(quid(
        &config,
        &["search", "lunch", "--in", "#team", "--json"],
        "",
    ));
    let found: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(found["hits"][0]["message"]["text"], "team lunch on friday");
    assert_eq!(found["hits"][0]["highlights"], serde_json::json!([[5, 10]]));
    assert_eq!(found["hits"].as_array().unwrap().len(), 1);
    let from_bob = ok(quid(
        &config,
        &["search", "lunch", "--in", "@bob", "--from", "@bob"],
        "",
    ));
    assert_eq!(from_bob.lines().count(), 1, "{from_bob}");
    assert!(from_bob.contains("bob: lunch is fine"), "{from_bob}");
    let none = ok(quid(&config, &["search", "pizza"], ""));
    assert_eq!(none, "no messages match \"pizza\"\n");

    let error = failed(quid(&config, &["search", "lunch \"next week"], ""));
    assert!(
        error.contains("search query, column 7: this phrase has no closing")
            && error.contains("\n  lunch \"next week\n        ^"),
        "{error}"
    );
    let error = failed(quid(&config, &["search", "lunch", "--in", "@carol"], ""));
    assert!(
        error.contains("--in @carol: you have no conversation with @carol"),
        "{error}"
    );
    let error = failed(quid(&config, &["search", "lunch", "--from", "nobody"], ""));
    assert!(error.contains("not_found"), "{error}");
}

#[test]
fn replies_edits_deletes_and_reactions_from_the_command_line() {
    let (_dir, _server, config) = alice_and_bob();
    ok(quid(&config, &["send", "@bob", "lunch at noon?"], ""));
    let shown = ok(quid(&config, &as_bob(&["history", "@alice"]), ""));
    let id = shown
        .split_whitespace()
        .find(|w| w.starts_with('#'))
        .expect("history shows message ids")
        .to_owned();

    ok(quid(
        &config,
        &as_bob(&["send", "@alice", "yes!", "--reply-to", &id]),
        "",
    ));
    ok(quid(&config, &["edit", &id, "lunch at one?"], ""));
    ok(quid(&config, &as_bob(&["react", &id, "👍"]), ""));
    let shown = ok(quid(&config, &["history", "@bob"], ""));
    assert!(
        shown.contains(&format!("{id} alice: lunch at one? (edited)")),
        "{shown}"
    );
    assert!(shown.contains("\n  👍 bob"), "{shown}");
    assert!(
        shown.contains(&format!("  ↳ {id} alice: lunch at one?\n")),
        "{shown}"
    );

    let error = failed(quid(&config, &as_bob(&["edit", &id, "mine"]), ""));
    assert!(
        error.contains("only your own messages") && error.contains("forbidden"),
        "{error}"
    );
    let error = failed(quid(&config, &["react", &id, "not an emoji"], ""));
    assert!(error.contains("invalid_argument"), "{error}");
    let error = failed(quid(&config, &["delete", "forty-one"], ""));
    assert!(error.contains("not a message id"), "{error}");
    let deleted = ok(quid(&config, &["delete", &id], ""));
    assert!(deleted.contains("(message deleted)"), "{deleted}");
    let shown = ok(quid(&config, &as_bob(&["history", "@alice"]), ""));
    assert!(
        shown.contains("  ↳ ") && shown.contains(": (message deleted)\n"),
        "{shown}"
    );
}

/// `quid history @bob | head -0`: the reader is gone before quid writes a line.
#[test]
fn a_reader_that_goes_away_ends_a_command_quietly() {
    let (_dir, _server, config) = alice_and_bob();
    ok(quid(&config, &["send", "@bob", "hello"], ""));
    let mut child = std::process::Command::new(crate::common::process::QUID)
        .args(["history", "@bob"])
        .env("QUID_CONFIG", &config)
        .env_remove("QUID_PROFILE")
        .env_remove("QUID_DATA_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(141), "{output:?}");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The coffee shop example keeps its state in quid's data dir, not in the directory it was
/// started from.
#[test]
fn the_coffee_shop_keeps_its_state_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let config = write_config(dir.path(), server.addr.port());
    let db_text = db.to_string_lossy().into_owned();
    let created = ok(quid(
        &config,
        &["admin", "--db", &db_text, "create-bot", "coffee"],
        "",
    ));
    let token = created.split_whitespace().last().unwrap().to_owned();
    let (cwd, data) = (dir.path().join("cwd"), dir.path().join("data"));
    std::fs::create_dir_all(&cwd).unwrap();
    let example = Path::new(crate::common::process::QUID)
        .parent()
        .unwrap()
        .join("examples/coffee_shop");
    let mut shop = std::process::Command::new(example)
        .args([
            "--server",
            &format!("ws://{}", server.addr),
            "--token",
            &token,
        ])
        .env("QUID_DATA_DIR", &data)
        .current_dir(&cwd)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It says it is open once its session has started, state directory made.
    let mut said = String::new();
    let mut stderr = std::io::BufReader::new(shop.stderr.take().unwrap());
    while !said.contains("Quid Coffee is open") {
        let read = std::io::BufRead::read_line(&mut stderr, &mut said).unwrap();
        assert!(read > 0, "the shop stopped: {said}");
    }
    shop.kill().unwrap();
    shop.wait().unwrap();
    assert!(data.join("coffee-shop").is_dir(), "{said}");
    let left: Vec<_> = std::fs::read_dir(&cwd).unwrap().collect();
    assert!(
        left.is_empty(),
        "wrote into the current directory: {left:?}"
    );
}

/// A name that would turn a line backwards is shown inert, also when echoed back and in
/// `--json` (escaped, so the JSON still means the same).
#[test]
fn what_commands_echo_and_json_carry_no_bidi_or_c1_controls() {
    let (_dir, _server, config) = alice_and_bob();
    let name = "team\u{202e}gnp.exe";
    let created = ok(quid(&config, &["group", "create", name, "@bob"], ""));
    assert!(created.starts_with("created #team"), "{created}");
    let sent = ok(quid(
        &config,
        &["send", &format!("#{name}"), "hello \u{9b}2J"],
        "",
    ));
    let json = ok(quid(&config, &["conversations", "--json"], ""));
    let history = ok(quid(
        &config,
        &["history", &format!("#{name}"), "--json"],
        "",
    ));
    for shown in [&created, &sent, &json, &history] {
        assert!(
            !shown.contains('\u{202e}') && !shown.contains('\u{9b}'),
            "{shown:?}"
        );
    }
    assert!(json.contains("\\u202e"), "{json}");
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["conversations"][0]["name"], name);
    assert!(history.contains("\\u009b"), "{history}");
}

#[test]
fn a_usage_line_names_only_what_was_typed_whatever_the_environment_sets() {
    let dir = tempfile::tempdir().unwrap();
    let missing = quid(&dir.path().join("config.toml"), &["history"], "");
    assert_eq!(missing.status.code(), Some(2));
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(said.contains("Usage: quid history <TARGET>"), "{said}");
    assert!(
        !said.contains("--config"),
        "QUID_CONFIG is set, not typed: {said}"
    );
}

#[test]
fn every_option_of_pay_and_request_says_what_it_is() {
    for command in ["pay", "request"] {
        let help = std::process::Command::new(crate::common::process::QUID)
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        let memo = help
            .lines()
            .find(|line| line.contains("--memo <MEMO>"))
            .unwrap_or_default();
        assert!(memo.contains("What it is for"), "{command}: {memo:?}");
        assert!(!help.contains(r#"[default: ""]"#), "{command}: {help}");
    }
}

#[test]
fn failures_say_what_was_wrong_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server.db"), "127.0.0.1:0");
    let config = write_config(dir.path(), server.addr.port());
    ok(quid(
        &config,
        &["register", "--password-stdin"],
        "alice's password\n",
    ));

    let error = failed(quid(&config, &["send", "bob", "hi"], ""));
    assert!(
        error.contains("@user") && error.lines().count() == 1,
        "{error}"
    );
    let error = failed(quid(&config, &["send", "@nobody", "hi"], ""));
    assert!(error.contains("no user named \"nobody\""), "{error}");
    let error = failed(quid(&config, &["history", "#nothing"], ""));
    assert!(error.contains("no group named"), "{error}");
    let error = failed(quid(&config, &["--profile", "dave", "conversations"], ""));
    assert!(
        error.contains("no profile named \"dave\"") && error.contains("alice, bob, carol"),
        "{error}"
    );
}

#[test]
fn config_init_writes_a_config_that_checks_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("new").join("config.toml");
    let run = |args: &[&str]| {
        std::process::Command::new(crate::common::process::QUID)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("QUID_DATA_DIR", dir.path().join("data"))
            .output()
            .unwrap()
    };
    let refused = failed(run(&["config", "init", "--username", "Carol!"]));
    assert!(refused.contains("--username"), "{refused}");
    assert!(!config.exists(), "nothing written for a bad username");
    let wrote = ok(run(&[
        "config",
        "init",
        "--username",
        "carol",
        "--server",
        "ws://127.0.0.1:9",
    ]));
    assert!(wrote.contains("quid register"), "{wrote}");
    let checked = ok(run(&["config", "check"]));
    assert!(checked.contains("username:  carol"), "{checked}");
    assert!(
        checked.contains(&dir.path().join("data").display().to_string()),
        "QUID_DATA_DIR applies: {checked}"
    );
    let again = failed(run(&["config", "init", "--username", "dave"]));
    assert!(again.contains("already exists"), "{again}");
    let kept = std::fs::read_to_string(&config).unwrap();
    assert!(kept.contains("username = \"carol\""), "{kept}");
}

#[test]
fn config_errors_point_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[profiles.alice]\nserver = \"ws://127.0.0.1:1\"\nusername = \"alice\"\nsever = \"typo\"\n",
    )
    .unwrap();
    let error = failed(quid(&config, &["config", "check"], ""));
    let expected = format!("{}:4:1: profiles.alice.sever:", config.display());
    assert!(error.contains(&expected), "{error}");

    std::fs::write(
        &config,
        "[profiles.alice]\nserver = \"localhost:7447\"\nusername = \"alice\"\n",
    )
    .unwrap();
    let error = failed(quid(&config, &["config", "check"], ""));
    assert!(error.contains(":2:10: profiles.alice.server:"), "{error}");

    // A theme file names only what it changes, and its mistakes have their own line.
    let profile = "[profiles.alice]\nserver = \"ws://127.0.0.1:1\"\nusername = \"alice\"\ntheme = \"mine.toml\"\n";
    std::fs::write(&config, profile).unwrap();
    let theme = dir.path().join("mine.toml");
    std::fs::write(&theme, "base = \"light\"\naccent = \"magenta\"\n").unwrap();
    ok(quid(&config, &["config", "check"], ""));
    std::fs::write(&theme, "base = \"light\"\naccent = \"plaid\"\n").unwrap();
    let error = failed(quid(&config, &["config", "check"], ""));
    let expected = format!(
        "{}:4:9: profiles.alice.theme: {}:2:10: accent: \"plaid\" is not a colour",
        config.display(),
        theme.display()
    );
    assert!(error.contains(&expected), "{error}");

    let missing = dir.path().join("absent.toml");
    let error = failed(quid(&missing, &["conversations"], ""));
    assert!(
        error.contains("no config file at") && error.contains("absent.toml"),
        "{error}"
    );
}

#[test]
fn a_message_sent_while_the_server_is_down_is_queued_and_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let port = server.addr.port();
    let config = write_config(dir.path(), port);
    ok(quid(
        &config,
        &["register", "--password-stdin"],
        "alice's password\n",
    ));
    ok(quid(
        &config,
        &["--profile", "bob", "register", "--password-stdin"],
        "bob's password\n",
    ));
    server.kill();

    let error = failed(quid(&config, &["send", "@bob", "while you were out"], ""));
    assert!(error.contains("outbox"), "{error}");
    assert_eq!(
        error.matches("cannot reach").count(),
        1,
        "said once, with the reason: {error}"
    );
    assert!(error.contains("is the server running?"), "{error}");
    // A secret message cannot be sealed without the server's device list: it says so.
    let error = failed(quid(&config, &["secret", "@bob", "psst"], ""));
    assert!(
        error.starts_with(
            "quid: nothing was sent: a secret message from the command line needs the server"
        ) && error.contains("cannot reach")
            && error.lines().count() == 1,
        "{error}"
    );

    let _server = ServerProcess::start(&db, &format!("127.0.0.1:{port}"));
    ok(quid(&config, &["send", "@bob", "and now"], ""));
    let history = ok(quid(
        &config,
        &["--profile", "bob", "history", "@alice", "--json"],
        "",
    ));
    let texts = message_texts(&history);
    assert_eq!(texts, ["while you were out", "and now"]);
}

#[test]
fn sigterm_stops_the_server_cleanly_and_its_log_file_is_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server =
        ServerProcess::start_logging(&dir.path().join("server.db"), "127.0.0.1:0", Some(&log));
    let status = server.terminate();
    assert!(
        status.success(),
        "quid serve exited with {status} after SIGTERM"
    );
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.contains("INFO") || written.contains("DEBUG"),
        "{written}"
    );
    assert!(
        !written.contains('\x1b'),
        "colour codes in a log file: {written:?}"
    );
}

#[test]
fn state_goes_under_quid_data_dir_when_the_profile_names_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server.db"), "127.0.0.1:0");
    let config = dir.path().join("config.toml");
    let port = server.addr.port();
    std::fs::write(
        &config,
        format!("[profiles.alice]\nserver = \"ws://127.0.0.1:{port}\"\nusername = \"alice\"\n"),
    )
    .unwrap();
    let data = dir.path().join("data");
    let output = std::process::Command::new(crate::common::process::QUID)
        .args(["register", "--password-stdin"])
        .env("QUID_CONFIG", &config)
        .env("QUID_DATA_DIR", &data)
        .stdin(std::fs::File::open(write_password(dir.path())).unwrap())
        .output()
        .unwrap();
    ok(output);
    let token = data.join("profiles/alice/token");
    assert!(token.exists(), "no token at {}", token.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

fn write_password(dir: &Path) -> PathBuf {
    let path = dir.join("password");
    std::fs::write(&path, "alice's password\n").unwrap();
    path
}

#[test]
fn money_from_the_command_line_with_a_pin_on_sqlite() {
    money_from_the_command_line_with_a_pin(TestDb::sqlite());
}

#[test]
fn money_from_the_command_line_with_a_pin_on_postgres() {
    if let Some(db) = TestDb::postgres() {
        money_from_the_command_line_with_a_pin(db);
    }
}

fn money_from_the_command_line_with_a_pin(db: TestDb) {
    let dir = &db.dir;
    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let config = write_config(dir.path(), server.addr.port());
    ok(quid(
        &config,
        &["register", "--password-stdin"],
        "alice's password\n",
    ));
    ok(quid(
        &config,
        &as_bob(&["register", "--password-stdin"]),
        "bob's password\n",
    ));
    let db_text = db.location.to_string();
    ok(quid(
        &config,
        &["admin", "--db", &db_text, "mint", "alice", "20", "EUR"],
        "",
    ));

    let paid = ok(quid(
        &config,
        &["pay", "@bob", "5", "--memo", "tea", "--yes"],
        "",
    ));
    assert!(
        paid.contains("paid €5.00 to bob") && paid.contains("balance €15.00"),
        "{paid}"
    );
    let error = failed(quid(&config, &["pay", "@bob", "5"], ""));
    assert!(error.contains("--yes"), "asks for confirmation: {error}");
    let error = failed(quid(&config, &["pay", "@bob", ".5", "--yes"], ""));
    assert!(error.contains("like 0.50"), "{error}");
    let error = failed(quid(&config, &["pay", "@bob", "5", "eur", "--yes"], ""));
    assert!(error.contains("must be written \"EUR\""), "{error}");
    let error = failed(quid(&config, &["pay", "@bob", "5", "USD"], ""));
    assert!(
        error.contains("you hold no USD: you hold €15.00; nothing paid"),
        "said before asking to confirm: {error}"
    );
    // One grammar: the amount and its currency in one argument or two; a sign or a zero gets
    // the amount's own error, not the argument parser's.
    let asked = failed(quid(&config, &["pay", "@bob", "1 EUR"], ""));
    assert!(
        asked.contains("Pay €1.00 to bob") && asked.contains("--yes"),
        "read as €1.00, then asks to confirm: {asked}"
    );
    let error = failed(quid(&config, &["pay", "@bob", "-3", "EUR", "--yes"], ""));
    assert!(
        error.contains("amounts cannot be negative: \"-3\""),
        "{error}"
    );
    let error = failed(quid(&config, &["pay", "@bob", "0", "--yes"], ""));
    assert!(error.contains("more than zero"), "{error}");
    let error = failed(quid(&config, &["pay", "@bob", "1 EUR", "EUR", "--yes"], ""));
    assert!(error.contains("already says its currency"), "{error}");
    let error = failed(quid(&config, &["request", "@bob", "-1"], ""));
    assert!(error.contains("cannot be negative"), "{error}");

    let error = failed(quid(&config, &["pin", "--pin-stdin"], "24a8\n"));
    assert!(error.contains("4 to 12 digits"), "{error}");
    ok(quid(&config, &["pin", "--pin-stdin"], "2468\n"));
    let error = failed(quid(&config, &["pay", "@bob", "1", "--yes"], ""));
    assert!(error.contains("needs its payment PIN"), "{error}");
    assert_eq!(ok(quid(&config, &["balance"], "")).trim(), "€15.00");
    let error = failed(quid(&config, &["pin", "--pin-stdin"], "1357\n"));
    assert!(error.contains("current one on the second line"), "{error}");
    ok(quid(&config, &["pin", "--pin-stdin"], "1357\n2468\n"));
    let error = failed(quid(
        &config,
        &["pay", "@bob", "1", "--yes", "--pin-stdin"],
        "2468\n",
    ));
    assert!(error.contains("pin"), "the old PIN no longer pays: {error}");
    let paid = ok(quid(
        &config,
        &["pay", "@bob", "1", "--yes", "--pin-stdin"],
        "1357\n",
    ));
    assert!(paid.contains("balance €14.00"), "{paid}");

    let asked = ok(quid(
        &config,
        &as_bob(&["request", "@alice", "3", "--memo", "cab"]),
        "",
    ));
    let request_id = asked
        .trim_end()
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap();
    let error = failed(quid(&config, &["requests", "pay", request_id], ""));
    assert!(
        error.contains("Pay €3.00 to bob for \"cab\"") && error.contains("--yes"),
        "paying a request is confirmed like any payment: {error}"
    );
    assert_eq!(ok(quid(&config, &["balance"], "")).trim(), "€14.00");
    let error = failed(quid(
        &config,
        &as_bob(&["requests", "pay", request_id, "--yes"]),
        "",
    ));
    assert!(
        error.contains("no request"),
        "bob asked; he cannot pay it: {error}"
    );
    let paid = ok(quid(
        &config,
        &["requests", "pay", request_id, "--yes", "--pin-stdin"],
        "1357\n",
    ));
    assert!(paid.contains("balance €11.00"), "{paid}");

    let csv = ok(quid(&config, &as_bob(&["statement", "--csv"]), ""));
    assert!(
        csv.lines()
            .last()
            .unwrap()
            .ends_with(",alice,5.00,EUR,5.00,tea"),
        "{csv}"
    );
    let report = ok(quid(
        &config,
        &["admin", "--db", &db_text, "check-ledger"],
        "",
    ));
    assert!(report.contains("ledger OK"), "{report}");
}

#[test]
fn check_ledger_reports_a_broken_ledger_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let config = write_config(dir.path(), server.addr.port());
    ok(quid(
        &config,
        &["register", "--password-stdin"],
        "alice's password\n",
    ));
    let db_text = db.display().to_string();
    ok(quid(
        &config,
        &["admin", "--db", &db_text, "mint", "alice", "20", "EUR"],
        "",
    ));
    drop(server);
    // Money appears from nowhere: the kind of bug check-ledger exists to catch.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE accounts SET balance_minor = balance_minor + 1 WHERE kind = 'wallet'",
            [],
        )
        .unwrap();
    let output = quid(&config, &["admin", "--db", &db_text, "check-ledger"], "");
    assert!(!output.status.success());
    let report = String::from_utf8(output.stdout).unwrap();
    assert!(
        report.contains("FAIL every currency sums to zero"),
        "{report}"
    );
    assert!(report.contains("EUR: accounts sum to 1"), "{report}");
    assert!(
        report.contains("FAIL every balance equals the sum of its entries"),
        "{report}"
    );
}

#[test]
fn invoices_from_the_command_line_for_buyer_and_merchant_on_sqlite() {
    invoices_from_the_command_line_for_buyer_and_merchant(TestDb::sqlite());
}

#[test]
fn invoices_from_the_command_line_for_buyer_and_merchant_on_postgres() {
    if let Some(db) = TestDb::postgres() {
        invoices_from_the_command_line_for_buyer_and_merchant(db);
    }
}

fn invoices_from_the_command_line_for_buyer_and_merchant(db: TestDb) {
    let dir = &db.dir;
    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let port = server.addr.port();
    let config = write_config(dir.path(), port);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[profiles.shop]\nserver = \"ws://127.0.0.1:{port}\"\nusername = \"shop\"\ndata_dir = \"shop\"\n"
    ));
    std::fs::write(&config, text).unwrap();
    let db_text = db.location.to_string();
    ok(quid(
        &config,
        &["register", "--password-stdin"],
        "alice's password\n",
    ));
    ok(quid(
        &config,
        &["admin", "--db", &db_text, "mint", "alice", "20", "EUR"],
        "",
    ));
    let bot = |merchant: &str| {
        quid(
            &config,
            &[
                "admin",
                "--db",
                &db_text,
                "create-bot",
                "shop",
                "--merchant",
                merchant,
            ],
            "",
        )
    };
    let error = failed(bot("The\u{7}Shop"));
    assert!(
        error.contains("invisible control character (U+0007) at character 4"),
        "{error}"
    );
    let created = ok(bot("The Shop"));
    let token = created.split_whitespace().last().unwrap().to_owned();
    ok(quid(
        &config,
        &as_profile("shop", &["login", "--token-stdin"]),
        &format!("{token}\n"),
    ));

    // The shop's bot bills alice through the library, as a bot does.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = url::Url::parse(&format!("ws://127.0.0.1:{port}")).unwrap();
    runtime.block_on(async {
        use quid::protocol::payments::{IdempotencyKey, LineItem};
        let (shop, _) = quid::session::connection::Connection::open(&url, Some(&token))
            .await
            .unwrap();
        shop.hello(None).await.unwrap();
        let opened: quid::protocol::results::OneConversation = shop
            .request(quid::protocol::RequestBody::OpenDirect(
                requests::OpenDirect {
                    username: "alice".into(),
                },
            ))
            .await
            .unwrap();
        let _: quid::protocol::results::InvoiceMade = shop
            .request(quid::protocol::RequestBody::SendInvoice(
                requests::SendInvoice {
                    conversation_id: opened.conversation.id,
                    items: vec![LineItem {
                        name: "tea".into(),
                        quantity: 2,
                        unit_price_minor: 250,
                    }],
                    currency: quid::money::Currency::from_code("EUR").unwrap(),
                    total_minor: 500,
                    payload: "order-9".into(),
                    expires_in_secs: None,
                    idempotency_key: IdempotencyKey::random(),
                },
            ))
            .await
            .unwrap();
    });

    let history = ok(quid(&config, &["history", "@shop"], ""));
    assert!(
        history.contains("shop: [invoice 1: €5.00 for 2 × tea, open]"),
        "{history}"
    );
    let list = ok(quid(&config, &["invoices"], ""));
    assert!(
        list.contains("from The Shop") && list.contains("€5.00") && list.contains("open"),
        "{list}"
    );
    let id = list
        .trim_start_matches('#')
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let paid = ok(quid(&config, &["invoices", "pay", &id, "--yes"], ""));
    assert!(paid.contains("balance €15.00"), "{paid}");
    let error = failed(quid(&config, &["invoices", "pay", &id, "--yes"], ""));
    assert!(error.contains("invoice_already_paid"), "{error}");
    let error = failed(quid(
        &config,
        &as_profile("shop", &["invoices", "refund", &id, "2"]),
        "",
    ));
    assert!(
        error.contains("Refund €2.00 of invoice") && error.contains("--yes"),
        "a refund moves money, so it is confirmed too: {error}"
    );
    let refunded = ok(quid(
        &config,
        &as_profile("shop", &["invoices", "refund", &id, "2", "--yes"]),
        "",
    ));
    assert!(refunded.contains("refunded €2.00"), "{refunded}");
    let error = failed(quid(
        &config,
        &as_profile("shop", &["invoices", "refund", &id, "4", "--yes"]),
        "",
    ));
    assert!(error.contains("refund_exceeds_payment"), "{error}");
    assert_eq!(ok(quid(&config, &["balance"], "")).trim(), "€17.00");
    let conversations = ok(quid(&config, &["conversations"], ""));
    assert!(
        conversations.contains("@shop  (The Shop, merchant bot)"),
        "{conversations}"
    );
    let report = ok(quid(
        &config,
        &["admin", "--db", &db_text, "check-ledger"],
        "",
    ));
    assert!(report.contains("ledger OK"), "{report}");
}

/// `--db` takes a file or a postgres:// URL; any other scheme is refused rather than taken
/// for a file name, and a database that cannot be reached is named in the error.
#[test]
fn a_database_url_of_an_unknown_scheme_is_refused_not_taken_for_a_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let serve = std::process::Command::new(crate::common::process::QUID)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "mysql://quid@db/quid",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(serve.status.code(), Some(2));
    let said = String::from_utf8_lossy(&serve.stderr);
    assert!(
        said.contains("'--db <PATH|URL>'") && said.contains("unknown database scheme"),
        "{said}"
    );
    let unreachable = "postgres://quid@127.0.0.1:1/quid";
    let admin = std::process::Command::new(crate::common::process::QUID)
        .args(["admin", "--db", unreachable, "check-ledger"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(admin.status.code(), Some(1));
    let said = String::from_utf8_lossy(&admin.stderr);
    assert!(
        said.contains(unreachable) && said.contains("connect"),
        "{said}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "created {left:?}");
}

#[test]
fn a_postgres_set_up_mistake_is_said_once_with_what_to_do() {
    let Some(cluster) = crate::common::postgres::PgCluster::shared() else {
        return;
    };
    let no_role = cluster.url().replacen("postgres@", "nobody@", 1);
    let serve = std::process::Command::new(crate::common::process::QUID)
        .args(["serve", "--listen", "127.0.0.1:0", "--db", &no_role])
        .output()
        .unwrap();
    assert_eq!(serve.status.code(), Some(1));
    let said = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert_eq!(
        said.matches("does not exist").count(),
        1,
        "said once: {said}"
    );
    assert!(
        said.contains(r#"role "nobody" does not exist"#) && said.contains("createuser"),
        "{said}"
    );
    assert!(
        !said.contains("db error"),
        "the driver's words add nothing: {said}"
    );
}

#[test]
fn the_memory_benchmark_measures_both_servers_and_the_client() {
    let printed = bench(&["memory", "--connections", "20", "--messages", "300"]);
    assert!(printed.contains("up to 20\n"), "{printed}");
    assert!(printed.contains("\n| 20 | "), "{printed}");
    assert!(
        printed.contains("the TUI's state with 300 messages"),
        "{printed}"
    );
    assert!(printed.contains("resident / wire: "), "{printed}");
}

/// What `quid bench ARGS` prints, run in a temporary directory; it must succeed.
fn bench(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(crate::common::process::QUID)
        .arg("bench")
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    ok(output)
}

#[test]
fn the_search_benchmark_runs_end_to_end() {
    let printed = bench(&["search", "--messages", "3000", "--repeat", "2"]);
    assert!(
        printed.contains("| baseline: history, 50 messages | 50 |"),
        "{printed}"
    );
    assert!(
        printed.contains("| the commonest word: `ka` | 20 |"),
        "{printed}"
    );
    assert!(printed.contains("Verdict: goal"), "{printed}");
}

#[test]
fn the_payments_benchmark_runs_end_to_end() {
    let printed = bench(&["payments", "--clients", "2", "--seconds", "1"]);
    assert!(
        printed.contains("| baseline: one fully synced SQLite transaction per transfer"),
        "{printed}"
    );
    assert!(
        printed.contains("| quid serve on SQLite, 2 clients in a closed loop |"),
        "{printed}"
    );
    assert!(printed.contains("check-ledger clean"), "{printed}");
}

/// The same on two nodes sharing one PostgreSQL database, against PostgreSQL's own baseline.
#[test]
fn the_payments_benchmark_runs_on_two_postgres_nodes() {
    let Some(cluster) = crate::common::postgres::PgCluster::shared() else {
        return;
    };
    let url = cluster.new_database();
    let printed = bench(&[
        "payments",
        "--clients",
        "4",
        "--seconds",
        "1",
        "--postgres",
        &url,
        "--nodes",
        "2",
    ]);
    assert!(printed.contains("PostgreSQL, 2 nodes"), "{printed}");
    assert!(
        printed.contains("| baseline: one PostgreSQL transaction per transfer"),
        "{printed}"
    );
    assert!(printed.contains("check-ledger clean"), "{printed}");
}

/// On a terminal, a PIN or password that breaks the rules is refused at the first prompt, and
/// changing the PIN asks for the current one by that name.
#[test]
fn prompts_check_the_rules_before_asking_twice() {
    if crate::common::tmux::tmux_missing() {
        return;
    }
    let (_dir, _server, config) = alice_and_bob();
    let quid_in = |args: &str| {
        format!(
            "QUID_CONFIG={} {} {args}; echo quid-exited-$?",
            config.display(),
            crate::common::process::QUID
        )
    };
    let tmux = crate::common::tmux::Tmux::start("prompts", &quid_in("pin"));
    tmux.wait_for("the PIN prompt", |s| s.contains("New payment PIN"));
    tmux.keys(&["12", "Enter"]);
    let screen = tmux.wait_for("the refusal", |s| s.contains("quid-exited-1"));
    assert!(screen.contains("4 to 12 digits"), "{screen}");
    assert!(!screen.contains("again"), "not asked twice: {screen}");

    ok(quid(&config, &["pin", "--pin-stdin"], "2468\n"));
    tmux.keys(&["clear", "Enter"]);
    tmux.keys(&[&quid_in("pin"), "Enter"]);
    tmux.wait_for("the PIN prompt", |s| s.contains("New payment PIN"));
    tmux.keys(&["1357", "Enter"]);
    tmux.wait_for("the second prompt", |s| s.contains("New PIN again"));
    tmux.keys(&["1357", "Enter"]);
    tmux.wait_for("the current PIN's prompt", |s| {
        s.contains("Current payment PIN:")
    });
    tmux.keys(&["2468", "Enter"]);
    tmux.wait_for("the change", |s| {
        s.contains("payment PIN set") && s.contains("quid-exited-0")
    });

    tmux.keys(&["clear", "Enter"]);
    tmux.keys(&[&quid_in("--profile carol register"), "Enter"]);
    tmux.wait_for("the password prompt", |s| s.contains("Password for"));
    tmux.keys(&["short", "Enter"]);
    let screen = tmux.wait_for("the refusal", |s| s.contains("quid-exited-1"));
    assert!(screen.contains("password must be 8"), "{screen}");
    assert!(!screen.contains("Again"), "not asked twice: {screen}");
}

#[test]
fn completions_and_man_pages_come_from_the_commands_themselves() {
    let config = Path::new("/nonexistent/config.toml");
    let bash = ok(quid(config, &["completions", "bash"], ""));
    assert!(
        bash.contains("_quid()") && bash.contains("requests"),
        "{bash}"
    );
    // The script loads in bash and registers quid's completion.
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &bash).unwrap();
    let loaded = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p quid",
            script.path().display()
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&loaded.stdout).contains("_quid"),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(ok(quid(config, &["completions", "zsh"], "")).starts_with("#compdef quid"));
    assert!(ok(quid(config, &["completions", "fish"], "")).contains("complete -c quid"));

    let page = ok(quid(config, &["man"], ""));
    assert!(
        page.contains(".TH quid 1") && page.contains("quid\\-pay(1)"),
        "{page}"
    );
    let pay = ok(quid(config, &["man", "pay"], ""));
    assert!(
        pay.contains(".TH quid-pay 1") && pay.contains("\\-\\-pin\\-stdin"),
        "{pay}"
    );
    let error = failed(quid(config, &["man", "pya"], ""));
    assert!(
        error.contains("no command \"pya\"; commands: serve"),
        "{error}"
    );

    // Every page as a file, as a package installs them.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man/man1");
    let said = ok(quid(config, &["man", "--out", out.to_str().unwrap()], ""));
    let written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        said.contains(&format!("wrote {} man pages", written.len())),
        "{said}"
    );
    for name in ["quid.1", "quid-pay.1", "quid-serve.1", "quid-man.1"] {
        assert!(written.iter().any(|w| w == name), "{name} in {written:?}");
    }
    let serve = std::fs::read_to_string(out.join("quid-serve.1")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        serve.contains(&format!(".TH quid-serve 1  \"quid-serve {version}\"")),
        "{serve}"
    );
}

/// The Debian package, as `packaging/build-deb` makes it (PROFILE=dev here, which builds in
/// seconds): the binary, a man page per command, completions for three shells, the defaults
/// file and the quid-serve unit. With `QUID_TEST_INSTALL_DEB=1`, as root (CI, on a machine of
/// its own), it is installed with `dpkg -i`: `quid --version` answers, the unit passes
/// `systemd-analyze verify`, the unit's command serves as the user quid from /var/lib/quid,
/// and the package is purged again. Skipped, loudly, without cargo-deb.
#[test]
fn the_debian_package_holds_everything_and_installs() {
    if !runs("cargo-deb", &["--version"]) {
        eprintln!("SKIPPED: no cargo-deb (`cargo install --locked cargo-deb`; .ci/run does)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let built = std::process::Command::new("packaging/build-deb")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PROFILE", "dev")
        .args(["--quiet", "--output"])
        .arg(out.path())
        .output()
        .unwrap();
    let said = ok(built);
    let deb = PathBuf::from(said.lines().last().expect("cargo deb names the package"));
    let listing = ok(std::process::Command::new("dpkg-deb")
        .arg("--contents")
        .arg(&deb)
        .output()
        .unwrap());
    for path in [
        "./usr/bin/quid",
        "./usr/share/man/man1/quid.1.gz",
        "./usr/share/man/man1/quid-serve.1.gz",
        "./usr/share/bash-completion/completions/quid",
        "./usr/share/zsh/vendor-completions/_quid",
        "./usr/share/fish/vendor_completions.d/quid.fish",
        "./usr/lib/systemd/system/quid-serve.service",
        "./etc/default/quid-serve",
    ] {
        assert!(listing.contains(path), "{path} is missing:\n{listing}");
    }
    if std::env::var_os("QUID_TEST_INSTALL_DEB").is_some_and(|v| v == "1") {
        install_and_serve(&deb);
    } else {
        eprintln!("not installed: set QUID_TEST_INSTALL_DEB=1, as root, to try dpkg -i");
    }
}

fn runs(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Installs `deb`, checks what it installed, and purges it (whatever the checks found).
fn install_and_serve(deb: &Path) {
    ok(std::process::Command::new("dpkg")
        .arg("-i")
        .arg(deb)
        .output()
        .unwrap());
    let checked = std::panic::catch_unwind(check_installed);
    let purged = std::process::Command::new("dpkg")
        .args(["--purge", "quid"])
        .output()
        .unwrap();
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
    ok(purged);
    assert!(!Path::new("/usr/bin/quid").exists(), "purged");
}

fn check_installed() {
    let version = ok(std::process::Command::new("/usr/bin/quid")
        .arg("--version")
        .output()
        .unwrap());
    assert_eq!(
        version.trim(),
        format!("quid {}", env!("CARGO_PKG_VERSION"))
    );
    let unit = "/usr/lib/systemd/system/quid-serve.service";
    if runs("systemd-analyze", &["--version"]) {
        let verified = std::process::Command::new("systemd-analyze")
            .args(["verify", unit])
            .output()
            .unwrap();
        let complaints = String::from_utf8_lossy(&verified.stderr).into_owned();
        assert!(
            verified.status.success() && complaints.is_empty(),
            "{complaints}"
        );
    } else {
        eprintln!("not verified: no systemd-analyze");
    }
    serve_as_the_unit_does(&std::fs::read_to_string(unit).unwrap());
}

/// Runs the unit's ExecStart as its User, with its Environment, on a free port; it must
/// serve, and keep its database where the unit says. Stopped before the package is purged.
fn serve_as_the_unit_does(unit: &str) {
    let setting = |key: &str| {
        unit.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("the unit sets {key}"))
            .to_owned()
    };
    let command = setting("ExecStart").replace("$QUID_SERVE_OPTIONS", "--listen 127.0.0.1:0");
    let mut words = command.split_whitespace();
    let program = words.next().unwrap();
    // setpriv, unlike runuser, becomes the server (no process in between), so that the
    // test's kill reaches it.
    let user = setting("User");
    let mut runner = std::process::Command::new("setpriv");
    runner
        .args(["--reuid", &user, "--regid", &user, "--init-groups", "--"])
        .args(["env", &setting("Environment"), program])
        .args(words)
        .current_dir(setting("WorkingDirectory"))
        .stderr(std::process::Stdio::null());
    let server = ServerProcess::from_command(runner);
    let health = {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(server.addr).unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    let owner = ok(std::process::Command::new("stat")
        .args(["--format=%U", "/var/lib/quid/server.db"])
        .output()
        .unwrap());
    assert_eq!(owner.trim(), "quid", "the database is the service user's");
    drop(server);
}

/// The texts (or why not) of `quid history @user --secret --json`.
fn secret_texts(json: &str) -> Vec<String> {
    let lines: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    lines
        .iter()
        .map(|line| match line["text"].as_str() {
            Some(text) => text.to_owned(),
            None => format!("unreadable: {}", line["unreadable"].as_str().unwrap()),
        })
        .collect()
}

#[test]
fn secret_conversations_from_the_command_line_keep_the_text_off_the_server_and_disk() {
    let (dir, server, config) = alice_and_bob();
    let text = format!("the vault code is {}", uuid::Uuid::new_v4());
    let empty = ok(quid(
        &config,
        &as_bob(&["history", "@alice", "--secret"]),
        "",
    ));
    assert!(
        empty.contains("no secret messages with @alice yet"),
        "{empty}"
    );

    let sent = ok(quid(&config, &["secret", "@bob", &text], ""));
    assert!(sent.starts_with("sent to @bob in secret"), "{sent}");
    ok(quid(&config, &as_bob(&["secret", "@alice", "got it"]), ""));
    let read = |profile: &str, stdin: &str| {
        let args = ["history", "@alice", "--secret", "--json"];
        let mut args = as_profile(profile, &args);
        if !stdin.is_empty() {
            args.push("--passphrase-stdin");
        }
        secret_texts(&ok(quid(&config, &args, stdin)))
    };
    assert_eq!(read("bob", ""), vec![text.clone(), "got it".to_owned()]);
    let alices = ok(quid(
        &config,
        &["history", "@bob", "--secret", "--json"],
        "",
    ));
    assert_eq!(
        secret_texts(&alices),
        vec![text.clone(), "got it".to_owned()]
    );
    let plain = ok(quid(&config, &["history", "@bob", "--json"], ""));
    assert!(
        message_texts(&plain).is_empty(),
        "the plain conversation is apart"
    );
    // What is not secret, the server keeps as it is: the search below can see it.
    let in_the_clear = format!("plain {}", uuid::Uuid::new_v4());
    ok(quid(&config, &["send", "@bob", &in_the_clear], ""));

    // Bob's second device, its store behind a passphrase: it reads what is sealed after it
    // was set up, once alice accepts its keys.
    let mut text_of_config = std::fs::read_to_string(&config).unwrap();
    text_of_config.push_str(&format!(
        "\n[profiles.laptop]\nserver = \"ws://127.0.0.1:{}\"\nusername = \"bob\"\ndata_dir = \"laptop\"\n",
        server.addr.port()
    ));
    std::fs::write(&config, text_of_config).unwrap();
    ok(quid(
        &config,
        &as_profile(
            "laptop",
            &["login", "--password-stdin", "--passphrase-stdin"],
        ),
        "bob's password\nopen sesame\n",
    ));
    let first = read("laptop", "open sesame\n");
    assert_eq!(
        first[0],
        "unreadable: not sealed for this device: it was sent before this device was set up"
    );
    let wrong = failed(quid(
        &config,
        &as_profile(
            "laptop",
            &["history", "@alice", "--secret", "--passphrase-stdin"],
        ),
        "open sesamo\n",
    ));
    assert!(
        wrong.contains("wrong passphrase for the secret store"),
        "{wrong}"
    );

    let changed = failed(quid(&config, &["secret", "@bob", "still there?"], ""));
    assert!(changed.contains("bob's identity keys changed"), "{changed}");
    assert!(changed.contains("--accept-keys"), "{changed}");
    ok(quid(&config, &["secret", "@bob", "--accept-keys"], ""));
    ok(quid(&config, &["secret", "@bob", "still there?"], ""));
    assert_eq!(
        read("laptop", "open sesame\n").last().unwrap(),
        "still there?"
    );
    assert_eq!(read("bob", "").last().unwrap(), "still there?");

    // Alice's own new device stops her sending too, until she accepts it.
    let mut text_of_config = std::fs::read_to_string(&config).unwrap();
    text_of_config.push_str(&format!(
        "\n[profiles.tablet]\nserver = \"ws://127.0.0.1:{}\"\nusername = \"alice\"\ndata_dir = \"tablet\"\n",
        server.addr.port()
    ));
    std::fs::write(&config, text_of_config).unwrap();
    ok(quid(
        &config,
        &as_profile("tablet", &["login", "--password-stdin"]),
        "alice's password\n",
    ));
    ok(quid(
        &config,
        &as_profile("tablet", &["history", "@bob", "--secret"]),
        "",
    ));
    let blocked = failed(quid(&config, &["secret", "@bob", "from the laptop"], ""));
    assert!(blocked.contains("your own devices changed"), "{blocked}");
    let accepted = ok(quid(&config, &["secret", "@bob", "--accept-keys"], ""));
    assert!(accepted.contains("accepted for you: device"), "{accepted}");
    ok(quid(&config, &["secret", "@bob", "from the laptop"], ""));
    let on_tablet = ok(quid(
        &config,
        &as_profile("tablet", &["history", "@bob", "--secret", "--json"]),
        "",
    ));
    assert_eq!(secret_texts(&on_tablet).last().unwrap(), "from the laptop");
    drop(server);

    let everywhere = crate::common::files_under(dir.path());
    assert!(everywhere.iter().any(|f| f.ends_with("server.db")));
    assert!(everywhere.iter().any(|f| f.ends_with("laptop/secret.db")));
    let holding = crate::common::files_containing(&everywhere, text.as_bytes());
    assert!(holding.is_empty(), "the text in the clear in {holding:?}");
    let plain = crate::common::files_containing(&everywhere, in_the_clear.as_bytes());
    assert!(!plain.is_empty(), "the search sees what the server wrote");
}

#[test]
fn register_and_login_publish_the_device_so_a_secret_message_reaches_them_at_once() {
    let (_dir, server, config) = alice_and_bob();
    // Bob only registered: his device is published, and alice's first secret reaches him.
    ok(quid(&config, &["secret", "@bob", "hi bob"], ""));
    let bobs = ok(quid(
        &config,
        &as_bob(&["history", "@alice", "--secret", "--json"]),
        "",
    ));
    assert_eq!(secret_texts(&bobs), vec!["hi bob".to_owned()]);

    // Carol registered without quid (over the protocol): no device yet, and the error says
    // what she must do. Once she logs in with quid, she can be written to.
    let url = url::Url::parse(&format!("ws://{}", server.addr)).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(crate::common::register(&url, "carol"));
    let no_device = failed(quid(&config, &["secret", "@carol", "hi carol"], ""));
    assert!(
        no_device.contains("carol has no device for secret conversations yet: they must log in"),
        "{no_device}"
    );
    let logged_in = ok(quid(
        &config,
        &as_profile("carol", &["login", "--password-stdin"]),
        "correct horse battery\n",
    ));
    assert!(
        logged_in.contains("this device can now receive secret messages"),
        "{logged_in}"
    );
    ok(quid(&config, &["secret", "@carol", "hi carol"], ""));
    let carols = ok(quid(
        &config,
        &as_profile("carol", &["history", "@alice", "--secret", "--json"]),
        "",
    ));
    assert_eq!(secret_texts(&carols), vec!["hi carol".to_owned()]);
}

#[test]
fn a_disappearing_memo_leaves_no_line_and_its_card_says_it_expired() {
    let (dir, _server, config) = alice_and_bob();
    let db = dir.path().join("server.db").display().to_string();
    ok(quid(
        &config,
        &["admin", "--db", &db, "mint", "alice", "20", "EUR"],
        "",
    ));
    let refused = failed(quid(&config, &["secret", "@bob", "--timer", "5y"], ""));
    assert!(refused.contains("write a number and a unit"), "{refused}");
    let timer = ok(quid(&config, &["secret", "@bob", "--timer", "2s"], ""));
    assert!(timer.contains("disappear after 2s with @bob"), "{timer}");
    ok(quid(
        &config,
        &["pay", "@bob", "5", "--memo", "lunch", "--secret", "--yes"],
        "",
    ));
    ok(quid(&config, &["secret", "@bob", "gone soon"], ""));
    let texts = |profile: &str, other: &str| {
        let args = as_profile(profile, &["history", other, "--secret", "--json"]);
        secret_texts(&ok(quid(&config, &args, "")))
    };
    let bobs = texts("bob", "@alice");
    assert!(bobs.contains(&"memo: lunch".to_owned()), "{bobs:?}");

    // Waiting for the two seconds to pass for both messages (the later one was sent a
    // command later), as the people in the conversation would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let bobs = loop {
        let bobs = texts("bob", "@alice");
        if !bobs
            .iter()
            .any(|text| text == "memo: lunch" || text == "gone soon")
        {
            break bobs;
        }
        assert!(std::time::Instant::now() < deadline, "{bobs:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    for seen in [bobs, texts("alice", "@bob")] {
        assert_eq!(
            seen.len(),
            2,
            "the timer and the card, nothing else: {seen:?}"
        );
        assert!(seen[0].contains("disappear after 2s"), "{seen:?}");
        assert!(
            seen[1].contains("€5.00") && seen[1].contains("🔒 memo expired"),
            "{seen:?}"
        );
    }
    let shown = ok(quid(&config, &["history", "@bob", "--secret"], ""));
    assert!(!shown.contains("deleted"), "{shown}");
}

#[test]
fn a_payment_in_a_secret_conversation_keeps_its_memo_off_the_server() {
    let (dir, _server, config) = alice_and_bob();
    let db = dir.path().join("server.db");
    let db_text = db.display().to_string();
    ok(quid(
        &config,
        &["admin", "--db", &db_text, "mint", "alice", "20", "EUR"],
        "",
    ));
    let memo = format!("the map to {}", uuid::Uuid::new_v4());
    let paid = ok(quid(
        &config,
        &["pay", "@bob", "5", "--memo", &memo, "--secret", "--yes"],
        "",
    ));
    assert!(paid.contains("paid €5.00 to bob"), "{paid}");
    let asked = ok(quid(
        &config,
        &["request", "@bob", "2", "--memo", "coffee", "--secret"],
        "",
    ));
    assert!(asked.contains("asked bob for €2.00"), "{asked}");

    let bobs = secret_texts(&ok(quid(
        &config,
        &as_bob(&["history", "@alice", "--secret", "--json"]),
        "",
    )));
    assert_eq!(bobs.len(), 4, "{bobs:?}");
    assert!(
        bobs[0].contains("€5.00") && bobs[0].contains("memo sealed"),
        "{bobs:?}"
    );
    assert_eq!(bobs[1], format!("memo: {memo}"));
    assert_eq!(bobs[3], "memo: coffee");
    let statement = ok(quid(&config, &as_bob(&["statement"]), ""));
    assert!(statement.contains("memo sealed"), "{statement}");

    let files = crate::common::files_under(dir.path());
    let holding = crate::common::files_containing(&files, memo.as_bytes());
    assert!(holding.is_empty(), "the memo in the clear in {holding:?}");
}
