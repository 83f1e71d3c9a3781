//! quid against a hostile server: a scripted fake (`crate::common::hostile`) speaks protocol 2 and
//! lies in one way a test, and each test asserts what the user is shown. The promises under
//! test are docs/SECURITY.md's: in a secret conversation only what decrypts from a pinned
//! device is anyone's words; keys are pinned as they were shown; nothing from the network
//! drives the terminal.

use crate::common::hostile::{Answer, HostileServer, secret_conversation, user, write_config};
use crate::common::process::quid;
use quid::protocol::secret::{ClaimedKey, DeviceKeys};
use quid::protocol::{ClientMsgId, ConversationId, Message, MessageId, TimestampMs, User, UserId};
use quid::secret::endpoint::Endpoint;
use quid::secret::vault::Unlock;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

/// Logs `username` in at `server` (the hostile server takes any password) and returns the
/// config, its profile's data dir beside it.
fn logged_in(dir: &Path, username: &str, server: &HostileServer) -> PathBuf {
    let config = write_config(dir, username, &server.url());
    let output = quid(&config, &["login", "--password-stdin"], "any password\n");
    assert!(output.status.success(), "{}", text(&output));
    config
}

/// Everything a `quid` run wrote, stdout then stderr.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `quid` off the async threads, where the hostile server runs.
async fn run(config: &Path, args: &[&str]) -> Output {
    let (config, args) = (
        config.to_owned(),
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    );
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        quid(&config, &args, "")
    })
    .await
    .unwrap()
}

fn endpoint(dir: &Path, username: &str) -> Endpoint {
    Endpoint::open(dir, username, &Unlock::KeyFile).unwrap()
}

/// `from` with a session to `to`'s device, each having pinned the other, as after a first
/// secret message.
fn introduce(from: &mut Endpoint, to: &mut Endpoint) {
    let published = to.keys_to_publish(1, false).unwrap();
    let claim = ClaimedKey {
        device: published.device,
        key: published.one_time_keys[0].clone(),
        fallback: false,
    };
    let (from_name, to_name) = (from.me().username, to.me().username);
    from.check_devices(&to_name, &[to.device_keys()]).unwrap();
    from.start_sessions(&[claim]).unwrap();
    to.check_devices(&from_name, &[from.device_keys()]).unwrap();
}

fn message(id: i64, conversation: i64, sender: User, text: &str) -> Message {
    Message {
        id: MessageId(id),
        conversation_id: ConversationId(conversation),
        sender,
        client_id: ClientMsgId::random(),
        text: text.to_owned(),
        sent_at: TimestampMs::now(),
        card: None,
        reply_to: None,
        file: None,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        sealed: None,
        expires_at: None,
        unreadable: None,
    }
}

/// A server whose secret conversation between `me` and `other` (id 40) holds `history`.
async fn serving_history(me: &str, other: &'static str, history: Vec<Message>) -> HostileServer {
    let me_owned = me.to_owned();
    HostileServer::start(me, move |kind, _| match kind {
        "open_secret" => Some(Answer::Ok(
            json!({"conversation": secret_conversation(40, &me_owned, other)}),
        )),
        "history" => Some(Answer::Ok(json!({"messages": history, "has_more": false}))),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_message_in_a_secret_conversation_is_never_shown_as_the_senders_words() {
    let dir = tempfile::tempdir().unwrap();
    let forged = message(
        7,
        40,
        User::new(UserId(3), "carol"),
        "FORGED by the server: pay me 500 EUR",
    );
    let server = serving_history("bob", "carol", vec![forged]).await;
    let config = logged_in(dir.path(), "bob", &server);

    let shown = text(&run(&config, &["history", "@carol", "--secret"]).await);
    assert!(
        !shown.contains("FORGED"),
        "the forged words were shown: {shown}"
    );
    assert!(shown.contains("not encrypted"), "{shown}");
    let json = text(&run(&config, &["history", "@carol", "--secret", "--json"]).await);
    assert!(!json.contains("FORGED"), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_message_id_replayed_under_another_sender_and_conversation_shows_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let (alice_dir, bob_dir) = (tempfile::tempdir().unwrap(), dir.path().join("bob"));
    let (mut alice, mut bob) = (
        endpoint(alice_dir.path(), "alice"),
        endpoint(&bob_dir, "bob"),
    );
    introduce(&mut alice, &mut bob);
    // Bob reads alice's message 5 in their secret conversation, 41.
    let mut original = message(5, 41, User::new(UserId(1), "alice"), "");
    original.sealed = Some(Box::new(
        alice
            .seal("alice's words for bob only", None, &[bob.device_keys()])
            .unwrap(),
    ));
    bob.read(&original).unwrap();
    drop(bob);
    // The server hands message 5 back as carol's, in bob's secret conversation with carol.
    let mut replayed = original.clone();
    replayed.conversation_id = ConversationId(40);
    replayed.sender = User::new(UserId(3), "carol");
    let server = serving_history("bob", "carol", vec![replayed]).await;
    let config = logged_in(dir.path(), "bob", &server);

    let shown = text(&run(&config, &["history", "@carol", "--secret"]).await);
    assert!(
        !shown.contains("alice's words"),
        "alice's text was shown as carol's: {shown}"
    );
}

/// A server that lists `username`'s devices as `listed` holds them when asked.
fn listing(
    username: &'static str,
    listed: Arc<Mutex<Vec<DeviceKeys>>>,
) -> impl Fn(&str, &Value) -> Option<Answer> + Send + Sync + 'static {
    move |kind, request| match kind {
        "open_secret" => Some(Answer::Ok(
            json!({"conversation": secret_conversation(40, "bob", username)}),
        )),
        "devices" if request["username"] == username => {
            Some(Answer::Ok(json!({"devices": *listed.lock().unwrap()})))
        }
        "claim_keys" => Some(Answer::Error {
            code: "not_found",
            message: "no keys today".into(),
        }),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_keys_pins_exactly_the_devices_shown_and_fails_when_the_list_changed() {
    let dir = tempfile::tempdir().unwrap();
    let carols: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let devices: Vec<DeviceKeys> = carols
        .iter()
        .map(|d| endpoint(d.path(), "carol").device_keys())
        .collect();
    let listed = Arc::new(Mutex::new(vec![devices[0].clone()]));
    let server = HostileServer::start("bob", listing("carol", Arc::clone(&listed))).await;
    let config = logged_in(dir.path(), "bob", &server);

    // First contact pins carol's one device; then a second one appears.
    run(&config, &["secret", "@carol", "hello"]).await;
    *listed.lock().unwrap() = devices[..2].to_vec();
    let warned = text(&run(&config, &["secret", "@carol", "hello"]).await);
    assert!(warned.contains("identity keys changed"), "{warned}");
    let shown = quid::secret::device::fingerprint(&devices[1]);
    assert!(warned.contains(&shown), "{warned} lacks {shown}");
    assert!(
        shown.chars().filter(char::is_ascii_hexdigit).count() >= 32,
        "{shown}: under 128 bits"
    );

    // Between the warning and the acceptance, the server slips a third device in.
    *listed.lock().unwrap() = devices.clone();
    let accepting = run(&config, &["secret", "@carol", "--accept-keys"]).await;
    let said = text(&accepting);
    assert!(!accepting.status.success(), "{said}");
    assert!(said.contains("changed since"), "{said}");
    let refused = text(&run(&config, &["secret", "@carol", "hello"]).await);
    assert!(
        refused.contains("identity keys changed"),
        "nothing was pinned: {refused}"
    );

    // The server goes back to two: a new warning shows them, and accepting what it showed
    // pins exactly those.
    *listed.lock().unwrap() = devices[..2].to_vec();
    let warned = text(&run(&config, &["secret", "@carol", "hello"]).await);
    assert!(warned.contains(&shown), "{warned}");
    let accepted = run(&config, &["secret", "@carol", "--accept-keys"]).await;
    assert!(accepted.status.success(), "{}", text(&accepted));
    run(&config, &["secret", "@carol", "hello"]).await;
    let claimed = server.requests_of("claim_keys");
    let asked: Vec<&Value> = claimed
        .iter()
        .flat_map(|r| r["devices"].as_array().unwrap())
        .collect();
    assert!(
        asked.iter().any(|d| *d == devices[1].curve25519.as_str()),
        "{claimed:?}"
    );
    assert!(
        !asked.iter().any(|d| *d == devices[2].curve25519.as_str()),
        "{claimed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_signed_for_another_user_is_never_accepted_as_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let (carol_dir, mallory_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let carol = endpoint(carol_dir.path(), "carol").device_keys();
    let mallory = endpoint(mallory_dir.path(), "mallory").device_keys();
    let listed = Arc::new(Mutex::new(vec![carol.clone()]));
    let server = HostileServer::start("bob", listing("carol", Arc::clone(&listed))).await;
    let config = logged_in(dir.path(), "bob", &server);
    run(&config, &["secret", "@carol", "hello"]).await;

    *listed.lock().unwrap() = vec![carol, mallory];
    let warned = text(&run(&config, &["secret", "@carol", "hello"]).await);
    assert!(warned.contains("mallory"), "{warned}");
    let accepting = run(&config, &["secret", "@carol", "--accept-keys"]).await;
    let said = text(&accepting);
    assert!(!accepting.status.success(), "{said}");
    assert!(said.contains("mallory"), "{said}");
}

/// Certificates as `openssl` makes them for a private CA: the CA, and a server certificate
/// signed by it for `names` (DNS names or IP addresses), written as PEM files in `dir`.
struct Certificates {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn certificates(dir: &Path, names: &[&str]) -> Certificates {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let files = Certificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.ca, ca.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

/// `quid register` as alice at `server` trusting `ca_file` (if any): what it printed, and
/// whether it worked.
fn register_over_tls(dir: &Path, server: &str, ca_file: Option<&Path>) -> (bool, String) {
    let ca = ca_file.map_or(String::new(), |path| {
        format!("ca_file = \"{}\"\n", path.display())
    });
    let config = dir.join("tls.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.alice]\nserver = \"{server}\"\n{ca}username = \"alice\"\ndata_dir = \"alice\"\n"
        ),
    )
    .unwrap();
    let output = quid(
        &config,
        &["register", "--password-stdin"],
        "a good password\n",
    );
    (output.status.success(), text(&output))
}

fn tls_server(dir: &Path, files: &Certificates) -> crate::common::process::ServerProcess {
    crate::common::process::ServerProcess::start_with(
        &dir.join("server.db"),
        "127.0.0.1:0",
        &[
            "--tls-cert",
            files.cert.to_str().unwrap(),
            "--tls-key",
            files.key.to_str().unwrap(),
        ],
        None,
    )
}

#[test]
fn a_certificate_for_another_name_is_refused_with_ca_file_as_without() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificates(dir.path(), &["other.example"]);
    let server = tls_server(dir.path(), &files);
    let port = server.addr.port();

    let (worked, said) = register_over_tls(
        dir.path(),
        &format!("wss://127.0.0.1:{port}"),
        Some(&files.ca),
    );
    assert!(
        !worked,
        "a certificate for other.example was taken for 127.0.0.1"
    );
    assert!(
        said.contains("other.example") && said.contains("127.0.0.1"),
        "{said}"
    );
    assert_eq!(said.trim_end().lines().count(), 1, "one line: {said}");

    // The server's own certificate as the pin: still only for its names.
    let (worked, said) = register_over_tls(
        dir.path(),
        &format!("wss://127.0.0.1:{port}"),
        Some(&files.cert),
    );
    assert!(
        !worked,
        "a pinned certificate for other.example was taken for 127.0.0.1: {said}"
    );
}

#[test]
fn a_certificate_for_an_address_is_refused_at_a_name_and_taken_at_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificates(dir.path(), &["127.0.0.1"]);
    let server = tls_server(dir.path(), &files);
    let port = server.addr.port();

    let (worked, said) = register_over_tls(
        dir.path(),
        &format!("wss://localhost:{port}"),
        Some(&files.ca),
    );
    assert!(
        !worked,
        "a certificate for 127.0.0.1 was taken for localhost"
    );
    assert!(said.contains("localhost"), "{said}");
    let (worked, said) = register_over_tls(
        dir.path(),
        &format!("wss://127.0.0.1:{port}"),
        Some(&files.ca),
    );
    assert!(worked, "{said}");
}

#[test]
fn a_server_no_root_vouches_for_says_to_set_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificates(dir.path(), &["localhost"]);
    let server = tls_server(dir.path(), &files);
    let (worked, said) = register_over_tls(
        dir.path(),
        &format!("wss://localhost:{}", server.addr.port()),
        None,
    );
    assert!(!worked);
    assert!(said.contains("ca_file"), "{said}");
    assert!(!said.contains("OtherError"), "{said}");
    assert_eq!(said.trim_end().lines().count(), 1, "one line: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tuis_session_marks_a_plain_event_in_a_secret_conversation_and_drops_its_text() {
    let conversation = secret_conversation(40, "bob", "carol");
    let forged = message(
        7,
        40,
        User::new(UserId(3), "carol"),
        "FORGED: pay me 500 EUR",
    );
    let server = HostileServer::start("bob", move |kind, request| {
        let streaming = kind == "hello" && !request["resume_after"].is_null();
        streaming.then(|| {
            Answer::OkThen(
                json!({"version": 2, "server": "quid/0.1.0", "max_frame_bytes": 65536,
                       "user": user(2, "bob"), "resume_after": 0}),
                vec![
                    json!({"type": "event", "seq": 1,
                           "event": {"kind": "joined", "conversation": conversation}}),
                    json!({"type": "event", "seq": 2,
                           "event": {"kind": "message", "message": forged}}),
                    json!({"type": "caught_up", "seq": 2}),
                ],
            )
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = url::Url::parse(&server.url()).unwrap();
    let (_session, mut events) = crate::common::secret_session(&url, "token", dir.path());
    let shown = crate::common::next_matching(&mut events, |event| match event {
        quid::session::SessionEvent::Event {
            event: quid::protocol::Event::Message { message },
            ..
        } => Some(message),
        _ => None,
    })
    .await;
    assert!(
        shown.text.is_empty(),
        "the forged text reached the TUI: {shown:?}"
    );
    let why = shown.unreadable.unwrap_or_default();
    assert!(
        why.contains("not encrypted") && why.contains("carol"),
        "{why}"
    );
}

/// What a hostile server puts in every string: a terminal title, an OSC 52 clipboard write, a
/// screen clear and a C1 CSI.
const ESCAPES: &str = "\u{1b}]0;pwned\u{7}\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\u{9b}31m";

/// Whether anything in `output` would act on a terminal.
fn acts_on_a_terminal(output: &Output) -> bool {
    text(output).contains(['\u{1b}', '\u{7}', '\u{9b}'])
}

fn funding_with(provider: &str, checkout_url: &str, reason: &str) -> Value {
    json!({
        "id": 9, "kind": "topup", "provider": provider,
        "amount": {"amount_minor": 2000, "currency": "EUR"}, "status": "pending",
        "reason": reason, "checkout_url": checkout_url, "created_at": 0, "updated_at": 0,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_in_every_string_the_cli_prints_reach_the_terminal_inert() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = format!("evil{ESCAPES}");
    let (said, page) = (hostile.clone(), format!("https://pay.example/c{ESCAPES}"));
    let server = HostileServer::start("bob", move |kind, _| {
        let direct = json!({
            "id": 41, "kind": "direct", "name": said, "members": [user(2, "bob"), user(3, &said)],
            "unread": 0, "last_message_id": null, "last_activity": 0,
        });
        let mut from_them = message(5, 41, User::new(UserId(3), said.as_str()), &said);
        from_them.sent_at = TimestampMs(0);
        Some(match kind {
            "balance" => Answer::Error {
                code: "internal",
                message: said.clone(),
            },
            "topup" => Answer::Ok(funding_with(&said, "https://pay.example/c/1", "")),
            "fundings" => Answer::Ok(json!({"fundings": [funding_with(&said, &page, &said)]})),
            "sessions" => Answer::Ok(json!({"sessions": [{
                "id": said, "current": true, "created_at": 0, "last_used_at": 0,
                "last_address": said,
            }]})),
            "open_direct" => Answer::Ok(json!({"conversation": direct})),
            "conversations" => Answer::Ok(json!({"conversations": [direct]})),
            "history" => Answer::Ok(json!({"messages": [from_them], "has_more": false})),
            _ => return None,
        })
    })
    .await;
    let config = logged_in(dir.path(), "bob", &server);
    for command in [
        &["balance"][..],
        &["topup", "20", "EUR", "--no-wait"],
        &["topups"],
        &["sessions"],
        &["history", "@carol"],
        &["conversations"],
    ] {
        let output = run(&config, command).await;
        assert!(
            !acts_on_a_terminal(&output),
            "quid {command:?} wrote escapes: {:?}",
            text(&output)
        );
        assert!(
            text(&output).contains("evil"),
            "quid {command:?}: {}",
            text(&output)
        );
    }

    // The token refused, in the server's words.
    let refusing = HostileServer::start_with(
        "bob",
        crate::common::hostile::Upgrade::Unauthorized(hostile),
        |_, _| None,
    )
    .await;
    let config = write_config(dir.path(), "bob", &refusing.url());
    let output = run(&config, &["balance"]).await;
    assert!(!output.status.success());
    assert!(!acts_on_a_terminal(&output), "{:?}", text(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_address_that_is_not_a_web_page_is_neither_shown_nor_opened() {
    for address in ["javascript:alert(1)", "file:///etc/passwd"] {
        let dir = tempfile::tempdir().unwrap();
        let page = address.to_owned();
        let server = HostileServer::start("bob", move |kind, _| {
            (kind == "topup").then(|| Answer::Ok(funding_with("sandbox", &page, "")))
        })
        .await;
        let config = logged_in(dir.path(), "bob", &server);
        let output = run(&config, &["topup", "20", "EUR", "--no-wait", "--open"]).await;
        let said = text(&output);
        assert!(!output.status.success(), "{said}");
        assert!(said.contains("cannot be used"), "{said}");
        assert!(!said.contains(address), "{said}");
    }
}

#[test]
fn the_readmes_tls_recipe_works_with_ca_file_and_says_what_to_do_without() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: openssl is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The README's command, for the name this test can reach.
    let made = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-days",
            "365",
            "-keyout",
            "privkey.pem",
            "-out",
            "fullchain.pem",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let files = Certificates {
        ca: dir.path().join("fullchain.pem"),
        cert: dir.path().join("fullchain.pem"),
        key: dir.path().join("privkey.pem"),
    };
    let server = tls_server(dir.path(), &files);
    let address = format!("wss://localhost:{}", server.addr.port());
    let (worked, said) = register_over_tls(dir.path(), &address, Some(&files.ca));
    assert!(worked, "{said}");
    let (worked, said) = register_over_tls(dir.path(), &address, None);
    assert!(!worked && said.contains("set ca_file"), "{said}");
}
