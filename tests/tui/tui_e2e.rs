//! `quid demo` in a real terminal (tmux): type a message, read the bot's reply off the screen,
//! buy a coffee and get the money back, quit, and find the shell usable. Skipped, with a message, where tmux is missing.

use crate::common::process::QUID;
use crate::common::tmux::{Tmux, tmux_missing};

#[test]
fn demo_answers_sells_a_coffee_refunds_it_and_quits_cleanly() {
    if tmux_missing() {
        return;
    }
    let command = format!("{QUID} demo; echo quid-exited-$?");
    let tmux = Tmux::start("demo", &command);
    tmux.wait_for("the demo to connect", |s| {
        s.contains("● connected") && s.contains("@bob")
    });
    // bob has read alice's first message: ✓✓, not ✓.
    tmux.wait_for("bob's read mark on alice's first message", |s| {
        s.contains("alice: hi bob! how does it work? ✓✓")
    });

    tmux.keys(&["hello from the end-to-end test", "Enter"]);
    let screen = tmux.wait_for("bob's reply", |s| s.contains("bob: hi alice!"));
    assert!(
        screen.contains("alice: hello from the end-to-end test"),
        "{screen}"
    );

    // A two-line paste stays two lines (tmux pastes them with CR between).
    tmux.paste("pasted first line\npasted second line");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the pasted message, sent", |s| {
        s.contains("alice: pasted first line")
    });
    let first = screen
        .lines()
        .position(|l| l.contains("alice: pasted first line"))
        .unwrap_or_else(|| panic!("the first line is a line of its own: {screen}"));
    assert!(
        screen
            .lines()
            .nth(first + 1)
            .is_some_and(|l| l.contains("pasted second line")),
        "{screen}"
    );

    tmux.keys(&["F1"]);
    tmux.wait_for("the help overlay", |s| {
        s.contains("quid help") && s.contains("quit quid")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("help to close", |s| !s.contains("quid help"));

    // Esc and F2 in one write (ESC ESC O Q): the pay modal opens, no "OQ" is typed.
    tmux.keys(&["Escape", "F2"]);
    let screen = tmux.wait_for("the pay modal", |s| s.contains("┌ Pay"));
    assert!(!screen.contains("OQ"), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the modal to close", |s| !s.contains("┌ Pay"));

    // Buy a coffee: order, pay the invoice from its card, get the confirmation, ask for a refund.
    let header = |screen: &str| screen.lines().next().unwrap_or("").to_owned();
    for _ in 0..5 {
        let before = header(&tmux.screen());
        if before.contains("$coffee") {
            break;
        }
        tmux.keys(&["C-n"]);
        tmux.wait_for("the next conversation", |s| header(s) != before);
    }
    tmux.wait_for("the coffee shop", |s| {
        s.contains("Quid Coffee · merchant bot")
    });
    tmux.keys(&["1 latte", "Enter"]);
    tmux.wait_for("the invoice", |s| s.contains("open · Tab to pay"));
    tmux.keys(&["Tab"]);
    tmux.wait_for("the invoice picked", |s| s.contains("Enter pays"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the review", |s| {
        s.contains("Pay an invoice") && s.contains("1 × latte")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the receipt", |s| s.contains("Paid €3.50"));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the confirmation", |s| s.contains("is being made"));
    let order = screen
        .split_whitespace()
        .find(|w| w.starts_with("order-"))
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-')
                .to_owned()
        })
        .expect("an order number on screen");
    tmux.keys(&[&format!("refund {order}"), "Enter"]);
    tmux.wait_for("the refund", |s| s.contains("Refunded €3.50"));
    tmux.wait_for("the balance back", |s| {
        s.lines()
            .rfind(|l| !l.trim().is_empty())
            .is_some_and(|l| l.contains("€250.00"))
    });

    tmux.keys(&["C-q"]);
    tmux.wait_for("quid to exit", |s| s.contains("quid-exited-0"));
    tmux.keys(&["echo shell-ok", "Enter"]);
    tmux.wait_for("a usable shell", |s| {
        s.lines().any(|l| l.trim() == "shell-ok")
    });
}

#[test]
fn demo_search_finds_a_word_in_another_conversation_opens_it_and_replies_to_it() {
    if tmux_missing() {
        return;
    }
    let command = format!("{QUID} demo; echo quid-exited-$?");
    let tmux = Tmux::start("search", &command);
    tmux.wait_for("the demo to connect", |s| {
        s.contains("● connected") && s.contains("@bob")
    });
    // bob has read alice's first message: ✓✓, not ✓.
    tmux.wait_for("bob's read mark on alice's first message", |s| {
        s.contains("alice: hi bob! how does it work? ✓✓")
    });
    tmux.keys(&["/"]);
    tmux.wait_for("the search bar", |s| s.contains("search (or a /command)"));
    tmux.keys(&["machine", "Enter"]);
    let screen = tmux.wait_for("the results", |s| s.contains("1 found"));
    assert!(
        screen.contains("#general") && screen.contains("carol: yes, and the new coffee machine"),
        "{screen}"
    );
    tmux.keys(&["Enter"]);
    let header = |screen: &str| screen.lines().next().unwrap_or("").to_owned();
    let screen = tmux.wait_for("the group opened at the message", |s| {
        header(s).contains("#general") && s.contains("carol: yes, and the new coffee machine")
    });
    assert!(!screen.contains("1 found"), "{screen}");

    // The found message is selected: r answers it, quoted.
    tmux.keys(&["r"]);
    tmux.wait_for("the reply's quote over the composer", |s| {
        s.contains("reply to carol: yes, and the new coffee machine")
    });
    tmux.keys(&["great news", "Enter"]);
    let screen = tmux.wait_for("the reply under its quote", |s| {
        s.contains("↳ carol: yes, and the new coffee machine") && s.contains("alice: great news")
    });
    let lines: Vec<&str> = screen.lines().collect();
    let quote = lines.iter().position(|l| l.contains("↳ carol:")).unwrap();
    assert!(lines[quote + 1].contains("alice: great news"), "{screen}");
    tmux.keys(&["C-q"]);
    tmux.wait_for("quid to exit", |s| s.contains("quid-exited-0"));
}

/// `quid --profile NAME demo` shows the demo in that profile's theme and keys.
#[test]
fn the_demo_takes_a_profiles_keys_and_theme() {
    if tmux_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(dir.path().join("mine.toml"), "accent = \"magenta\"\n").unwrap();
    std::fs::write(
        &config,
        "[profiles.tester]\nserver = \"ws://127.0.0.1:1\"\nusername = \"tester\"\n\
         theme = \"mine.toml\"\n[profiles.tester.keys]\nhelp = \"f9\"\n",
    )
    .unwrap();
    let command = format!(
        "{QUID} --config {} --profile tester demo; echo quid-exited-$?",
        config.display()
    );
    let tmux = Tmux::start("demo-profile", &command);
    tmux.wait_for("the profile's help key in the status bar", |s| {
        s.contains("● connected") && s.contains("F9 help")
    });
    tmux.keys(&["C-q"]);
    tmux.wait_for("the demo to end", |s| s.contains("quid-exited-0"));

    let command = format!(
        "{QUID} --config {} --profile nobody demo; echo quid-exited-$?",
        config.display()
    );
    let tmux = Tmux::start("demo-no-profile", &command);
    let screen = tmux.wait_for("the refusal", |s| s.contains("quid-exited-1"));
    assert!(screen.contains("no profile named \"nobody\""), "{screen}");

    // A QUID_CONFIG exported for a config not written yet does not stop a first run.
    let command = format!(
        "QUID_CONFIG={}/absent.toml {QUID} demo",
        dir.path().display()
    );
    let tmux = Tmux::start("demo-env-config", &command);
    tmux.wait_for("the demo, as shipped", |s| {
        s.contains("● connected") && s.contains("F1 help")
    });
    tmux.keys(&["C-q"]);
}

/// A config with profiles alice, bob and alice's second device, on the server at `port`.
fn secret_config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let profile = |name: &str, user: &str| {
        format!(
            "[profiles.{name}]\nserver = \"ws://127.0.0.1:{port}\"\nusername = \"{user}\"\ndata_dir = \"{name}\"\n\n"
        )
    };
    let text = format!(
        "default_profile = \"alice\"\n\n{}{}{}",
        profile("alice", "alice"),
        profile("bob", "bob"),
        profile("tablet", "alice")
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A server and a config in `dir`, alice and bob registered.
fn alice_and_bob_registered(
    dir: &std::path::Path,
) -> (crate::common::process::ServerProcess, std::path::PathBuf) {
    let server =
        crate::common::process::ServerProcess::start(&dir.join("server.db"), "127.0.0.1:0");
    let config = secret_config(dir, server.addr.port());
    cli(
        &config,
        &["register", "--password-stdin"],
        "alice's password\n",
    );
    let bob = ["--profile", "bob", "register", "--password-stdin"];
    cli(&config, &bob, "bob's password\n");
    (server, config)
}

fn cli(config: &std::path::Path, args: &[&str], stdin: &str) -> String {
    let output = crate::common::process::quid(config, args, stdin);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "quid {args:?} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_secret_conversation_in_the_tui_reads_sends_and_stops_at_a_new_device() {
    if tmux_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, config) = alice_and_bob_registered(dir.path());

    let command = format!("QUID_CONFIG={} {QUID} --profile bob", config.display());
    let tmux = Tmux::start("secret", &command);
    tmux.wait_for("bob's TUI to connect", |s| s.contains("● connected"));
    cli(&config, &["secret", "@bob", "meet me at the old oak"], "");
    tmux.wait_for("the secret conversation in the sidebar", |s| {
        s.contains("🔒alice")
    });
    tmux.keys(&["/secret alice", "Enter"]);
    let screen = tmux.wait_for("alice's message, decrypted", |s| {
        s.contains("alice: meet me at the old oak")
    });
    assert!(screen.contains("secret · end-to-end encrypted"), "{screen}");
    assert!(
        screen.contains("🔒 secret"),
        "the status bar says so: {screen}"
    );

    tmux.keys(&["I will bring the map", "Enter"]);
    tmux.wait_for("bob's reply, sent", |s| {
        s.contains("bob: I will bring the map ✓")
    });
    let history = cli(&config, &["history", "@bob", "--secret"], "");
    assert!(history.contains("bob: I will bring the map"), "{history}");

    // Alice logs in on a second device: bob's next message stops until he accepts it.
    cli(
        &config,
        &["--profile", "tablet", "login", "--password-stdin"],
        "alice's password\n",
    );
    cli(
        &config,
        &["--profile", "tablet", "history", "@bob", "--secret"],
        "",
    );
    tmux.keys(&["are you there?", "Enter"]);
    let screen = tmux.wait_for("the new device warning", |s| {
        s.contains("not sent: new device")
    });
    assert!(
        screen.contains("are you there?"),
        "the text is back in the composer: {screen}"
    );
    tmux.keys(&["C-u", "/accept-keys", "Enter"]);
    tmux.wait_for("the keys accepted", |s| {
        s.contains("accepted 1 new device(s) for alice and you")
    });
    tmux.keys(&["are you there?", "Enter"]);
    tmux.wait_for("the message sent", |s| s.contains("bob: are you there? ✓"));
    let tablet = cli(
        &config,
        &["--profile", "tablet", "history", "@bob", "--secret"],
        "",
    );
    assert!(tablet.contains("bob: are you there?"), "{tablet}");
    tmux.keys(&["/quit", "Enter"]);
    drop(server);

    let files = crate::common::files_under(dir.path());
    for text in [
        "meet me at the old oak",
        "I will bring the map",
        "are you there?",
    ] {
        let holding = crate::common::files_containing(&files, text.as_bytes());
        assert!(holding.is_empty(), "{text:?} in the clear in {holding:?}");
    }
}

/// The emoji line of a verification's code on `screen`.
fn code_on(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let asked = lines
        .iter()
        .position(|l| l.contains("show the same?"))
        .unwrap_or_else(|| panic!("no code on the screen: {screen}"));
    lines[asked + 1]
        .trim_matches(|c: char| c == '│' || c.is_whitespace())
        .to_owned()
}

#[test]
fn two_tuis_verify_each_other_by_comparing_the_same_code() {
    if tmux_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, config) = alice_and_bob_registered(dir.path());
    let tui = |profile: &str| {
        let command = format!(
            "QUID_CONFIG={} {QUID} --profile {profile}",
            config.display()
        );
        let tmux = Tmux::start(profile, &command);
        tmux.wait_for("the TUI to connect", |s| s.contains("● connected"));
        tmux
    };
    let (alice, bob) = (tui("alice"), tui("bob"));
    alice.keys(&["/secret bob", "Enter"]);
    alice.wait_for("the secret conversation", |s| s.contains("to 🔒bob"));
    alice.keys(&["shall we verify?", "Enter"]);
    bob.wait_for("alice's conversation", |s| s.contains("🔒alice"));
    bob.keys(&["/secret alice", "Enter"]);
    bob.wait_for("alice's message", |s| s.contains("alice: shall we verify?"));

    // The first time alice says the codes differ: neither is verified.
    bob.keys(&["/verify", "Enter"]);
    alice.wait_for("the code", |s| s.contains("show the same?"));
    alice.keys(&["/verify no", "Enter"]);
    alice.wait_for("alice's refusal", |s| {
        s.contains("not verified: you said the codes did not match")
    });
    bob.wait_for("bob told", |s| {
        s.contains("not verified") && s.contains("the codes did not match")
    });

    bob.keys(&["/verify", "Enter"]);
    let on_alice = code_on(&alice.wait_for("a new code", |s| s.contains("show the same?")));
    let on_bob = code_on(&bob.wait_for("the code", |s| s.contains("show the same?")));
    assert_eq!(on_alice, on_bob, "both screens show the same code");
    assert!(on_alice.contains(|c: char| c.is_alphabetic()), "{on_alice}");
    // Alice, asked, types /verify to agree: that compares; it starts no second verification.
    alice.keys(&["/verify", "Enter"]);
    alice.wait_for("what to do with the code", |s| {
        s.contains("the code is on screen")
    });
    alice.keys(&["/verify yes", "Enter"]);
    bob.keys(&["/verify yes", "Enter"]);
    let screen = alice.wait_for("bob verified", |s| s.contains("bob is verified"));
    assert!(
        screen.contains("🔐bob") && screen.contains("🔐 verified"),
        "{screen}"
    );
    let screen = bob.wait_for("alice verified", |s| s.contains("alice is verified"));
    assert!(
        screen.contains("end-to-end encrypted · verified"),
        "{screen}"
    );
    // One line per step that matters: what the devices exchange by themselves is not.
    for screen in [alice.screen(), screen] {
        assert!(!screen.contains("verification key"), "{screen}");
        assert!(!screen.contains("ready to compare"), "{screen}");
        assert_eq!(screen.matches("asked to verify").count(), 2, "{screen}");
    }
    drop(server);
}
