//! A server on a network: TLS end to end, sessions that end when revoked, brute-force limits,
//! the PIN lock under concurrent guesses, the per-address cap, and the plain HTTP endpoints.

use crate::common::*;
use futures_util::StreamExt;
use quid::protocol::requests;
use quid::protocol::{ErrorCode, RequestBody, results};
use quid::server::ServerConfig;
use quid::session::connection::{ConnectError, Connection, RequestError};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A self-signed certificate for `localhost`, written as PEM files into `dir`.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// A self-signed certificate for `localhost` that is also marked as a CA.
fn self_signed_ca(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let certificate = params.self_signed(&key_pair).unwrap();
    let cert = dir.join("ca-cert.pem");
    let key = dir.join("ca-key.pem");
    std::fs::write(&cert, certificate.pem()).unwrap();
    std::fs::write(&key, key_pair.serialize_pem()).unwrap();
    (cert, key)
}

#[tokio::test]
async fn tls_works_end_to_end_with_a_private_ca_and_refuses_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let config = ServerConfig {
        tls: Some(quid::tls::server_config(&cert, &key).unwrap()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&dir.path().join("server.db"), config).await;
    let url = url::Url::parse(&format!("wss://localhost:{}", server.addr.port())).unwrap();

    let (connection, _) = Connection::open_trusting(&url, Some(&cert), None)
        .await
        .expect("the private CA is trusted");
    connection.hello(None).await.unwrap();
    let auth: results::Auth = connection
        .request(RequestBody::Register(requests::Register {
            username: "alice".into(),
            password: "correct horse battery".into(),
        }))
        .await
        .unwrap();
    let (logged_in, _) = Connection::open_trusting(&url, Some(&cert), Some(&auth.token))
        .await
        .unwrap();
    let hello = logged_in.hello(None).await.unwrap();
    assert_eq!(hello.user.unwrap().username, "alice");

    // Without the CA the certificate is unknown: a clear error, no panic.
    let other_dir = tempfile::tempdir().unwrap();
    let (other_cert, _) = self_signed(other_dir.path());
    let refused = Connection::open_trusting(&url, Some(&other_cert), None).await;
    match refused {
        Err(ConnectError::Unreachable { reason, .. }) => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        other => panic!("expected a certificate error, got {:?}", other.map(|_| ())),
    }
    server.stop().await;

    // A self-signed certificate marked as a CA (what `openssl req -x509` makes) is refused by a
    // chain check as a server's own; named in ca_file, it is trusted as it is (pinned).
    let (cert, key) = self_signed_ca(other_dir.path());
    let config = ServerConfig {
        tls: Some(quid::tls::server_config(&cert, &key).unwrap()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&dir.path().join("server.db"), config).await;
    let url = url::Url::parse(&format!("wss://localhost:{}", server.addr.port())).unwrap();
    let (pinned, _) = Connection::open_trusting(&url, Some(&cert), Some(&auth.token))
        .await
        .expect("the pinned certificate is trusted");
    assert!(pinned.hello(None).await.unwrap().user.is_some());
    // A plain client cannot talk to the TLS port.
    let plain = url::Url::parse(&format!("ws://localhost:{}", server.addr.port())).unwrap();
    assert!(Connection::open(&plain, None).await.is_err());
    server.stop().await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn raw_with_token(server: &TestServer, token: &str) -> Socket {
    let mut request = format!("ws://{}/v1", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = r#"{"id": 1, "type": "hello", "version": 2, "resume_after": 0}"#;
    futures_util::SinkExt::send(&mut socket, Message::text(hello))
        .await
        .unwrap();
    socket
}

/// Waits for the server to close `socket` and returns the close code and how long it took.
async fn close_code(socket: &mut Socket) -> (u16, Duration) {
    let started = Instant::now();
    loop {
        let next = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the server closes the connection in time");
        match next {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), started.elapsed());
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn logout_closes_every_live_connection_of_that_token_at_once(db: TestDb) {
    let server = TestServer::start(&db).await;
    let token = register(&server.url(), "alice").await;
    let mut earlier = raw_with_token(&server, &token).await;

    let other = connect(&server.url(), &token).await;
    let _: results::Empty = other.request(RequestBody::Logout).await.unwrap();

    let (code, took) = close_code(&mut earlier).await;
    assert_eq!(code, 4001);
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    let again = Connection::open(&server.url(), Some(&token)).await;
    assert!(matches!(again, Err(ConnectError::Unauthorized(_))));
    server.stop().await;
}

async fn a_revocation_by_another_process_closes_live_connections_within_a_second(db: TestDb) {
    let server = TestServer::start(&db).await;
    let token = register(&server.url(), "alice").await;
    let mut live = raw_with_token(&server, &token).await;

    // As `quid admin revoke alice` does: straight on the database.
    let output = std::process::Command::new(process::QUID)
        .args(["admin", "--db"])
        .arg(db.location.to_string())
        .args(["revoke", "alice"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("revoked 1 session(s) of alice"));

    let (code, took) = close_code(&mut live).await;
    assert_eq!(code, 4001);
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    server.stop().await;
}

async fn sessions_are_listed_with_where_they_were_used_and_one_can_be_revoked(db: TestDb) {
    let server = TestServer::start(&db).await;
    let first = register(&server.url(), "alice").await;
    let (anonymous, _) = Connection::open(&server.url(), None).await.unwrap();
    anonymous.hello(None).await.unwrap();
    let second: results::Auth = anonymous
        .request(RequestBody::Login(requests::Login {
            username: "alice".into(),
            password: "correct horse battery".into(),
        }))
        .await
        .unwrap();
    let mut doomed = raw_with_token(&server, &second.token).await;
    let me = connect(&server.url(), &first).await;
    let listed: results::Sessions = me.request(RequestBody::Sessions).await.unwrap();
    assert_eq!(listed.sessions.len(), 2);
    let current = listed.sessions.iter().find(|s| s.current).unwrap();
    assert_eq!(current.last_address.as_deref(), Some("127.0.0.1"));
    let other = listed.sessions.iter().find(|s| !s.current).unwrap();

    let _: results::Empty = me
        .request(RequestBody::RevokeSession(requests::RevokeSession {
            session_id: other.id.clone(),
        }))
        .await
        .unwrap();
    assert_eq!(close_code(&mut doomed).await.0, 4001);
    let listed: results::Sessions = me.request(RequestBody::Sessions).await.unwrap();
    assert_eq!(listed.sessions.len(), 1);
    let unknown = me
        .request::<results::Empty>(RequestBody::RevokeSession(requests::RevokeSession {
            session_id: "0123456789ab".into(),
        }))
        .await;
    assert!(matches!(unknown, Err(RequestError::Api(e)) if e.code == ErrorCode::NotFound));
    server.stop().await;
}

async fn login(url: &url::Url, password: &str) -> Result<results::Auth, RequestError> {
    let (connection, _) = Connection::open(url, None).await.unwrap();
    connection.hello(None).await.unwrap();
    connection
        .request(RequestBody::Login(requests::Login {
            username: "alice".into(),
            password: password.into(),
        }))
        .await
}

#[tokio::test]
async fn wrong_passwords_meet_growing_delays_that_answer_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    register(&server.url(), "alice").await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        match login(&server.url(), "wrong password").await {
            Err(RequestError::Api(error)) => {
                if error.code == ErrorCode::RateLimited {
                    assert!(error.retry_after_ms.is_some_and(|ms| ms > 0));
                }
                codes.push(error.code);
            }
            other => panic!("{other:?}"),
        }
    }
    let wrong = codes
        .iter()
        .filter(|c| **c == ErrorCode::InvalidCredentials)
        .count();
    assert_eq!(wrong, 5, "five free attempts, then waits: {codes:?}");
    assert!(codes[5..].iter().all(|c| *c == ErrorCode::RateLimited));
    // While the username waits, even the right password is turned away unhashed.
    let right = login(&server.url(), "correct horse battery").await;
    assert!(matches!(right, Err(RequestError::Api(e)) if e.code == ErrorCode::RateLimited));
    server.stop().await;
}

async fn set_pin(connection: &Connection, pin: &str) {
    let _: results::Empty = connection
        .request(RequestBody::SetPin(requests::SetPin {
            pin: pin.into(),
            current_pin: None,
            password: None,
        }))
        .await
        .unwrap();
}

/// Pays bob €1 with `pin`.
async fn pay_bob(connection: &Connection, pin: &str) -> Result<results::Paid, RequestError> {
    connection
        .request(RequestBody::Pay(requests::Pay {
            to: "bob".into(),
            amount: eur(100),
            memo: String::new(),
            conversation_id: None,
            idempotency_key: quid::protocol::payments::IdempotencyKey::random(),
            pin: Some(pin.into()),
        }))
        .await
}

/// Five wrong PINs in a row from `alice`: the last refusal's message.
async fn five_wrong_pins(alice: &Connection) -> String {
    let mut last = String::new();
    for _ in 0..5 {
        match pay_bob(alice, "00000").await {
            Err(RequestError::Api(error)) => last = error.message,
            other => panic!("{other:?}"),
        }
    }
    last
}

#[tokio::test]
async fn the_pin_lock_escalates_then_holds_until_the_password_sets_a_new_pin() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = TestServer::start(&db).await;
    let token = register(&server.url(), "alice").await;
    register(&server.url(), "bob").await;
    mint(&db, "alice", eur(1000));
    let alice = connect(&server.url(), &token).await;
    set_pin(&alice, "97531").await;
    // Each lock is taken as over by moving its end into the past: no test waits a day.
    let lift_lock = || {
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute(
                "UPDATE users SET pin_locked_until_ms = 1 WHERE username = 'alice'",
                [],
            )
            .unwrap();
    };
    for expected in [
        "locked for 15 more minute(s)",
        "locked for 60 more minute(s)",
        "locked for 24 more hour(s)",
    ] {
        let said = five_wrong_pins(&alice).await;
        assert!(said.contains(expected), "{expected:?} not in {said:?}");
        lift_lock();
    }
    let said = five_wrong_pins(&alice).await;
    assert!(
        said.contains("until a new PIN is set with the account's password"),
        "{said}"
    );
    let right = pay_bob(&alice, "97531").await;
    assert!(matches!(right, Err(RequestError::Api(e)) if e.code == ErrorCode::PinLocked));

    let with_password = |password: &str| {
        RequestBody::SetPin(requests::SetPin {
            pin: "24680".into(),
            current_pin: None,
            password: Some(password.into()),
        })
    };
    let wrong: Result<results::Empty, _> = alice.request(with_password("not her password")).await;
    assert!(matches!(wrong, Err(RequestError::Api(e)) if e.code == ErrorCode::InvalidCredentials));
    let _: results::Empty = alice
        .request(with_password("correct horse battery"))
        .await
        .unwrap();
    pay_bob(&alice, "24680").await.unwrap();
    // A right PIN starts the escalation over: the next lock is 15 minutes again.
    let said = five_wrong_pins(&alice).await;
    assert!(said.contains("locked for 15 more minute(s)"), "{said}");
    server.stop().await;
}

async fn concurrent_wrong_pins_cannot_outrun_the_lock(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = register(&server.url(), "alice").await;
    register(&server.url(), "bob").await;
    mint(&server.db, "alice", eur(10_000));
    let setter = connect(&server.url(), &alice).await;
    set_pin(&setter, "2468").await;
    let mut connections = Vec::new();
    for _ in 0..8 {
        connections.push(connect(&server.url(), &alice).await);
    }
    let guesses = (0..40).map(|n| {
        let connection = connections[n % connections.len()].clone();
        async move {
            match pay_bob(&connection, &format!("{:04}", 1000 + n)).await {
                Err(RequestError::Api(error)) => error.code,
                other => panic!("{other:?}"),
            }
        }
    });
    let codes = futures_util::future::join_all(guesses).await;
    let verified = codes
        .iter()
        .filter(|c| matches!(c, ErrorCode::WrongPin))
        .count();
    assert!(
        verified < 5
            && codes
                .iter()
                .all(|c| matches!(c, ErrorCode::WrongPin | ErrorCode::PinLocked)),
        "at most five guesses are checked: {codes:?}"
    );
    let right = pay_bob(&setter, "2468").await;
    assert!(matches!(right, Err(RequestError::Api(e)) if e.code == ErrorCode::PinLocked));
    server.stop().await;
}

#[tokio::test]
async fn one_address_gets_at_most_its_share_of_connections() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        max_connections_per_address: 2,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&dir.path().join("server.db"), config).await;
    let first = Connection::open(&server.url(), None).await.unwrap();
    first.0.hello(None).await.unwrap();
    let second = Connection::open(&server.url(), None).await.unwrap();
    second.0.hello(None).await.unwrap();
    assert!(Connection::open(&server.url(), None).await.is_err());
    drop(first);
    // The slot comes back once the server has seen the close.
    let third = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(opened) = Connection::open(&server.url(), None).await {
                return opened;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    third.0.hello(None).await.unwrap();
    server.stop().await;
}

async fn http_get(server: &TestServer, path: &str) -> String {
    http_get_at(server.addr, path).await
}

async fn health_and_metrics_are_served_next_to_the_websocket(db: TestDb) {
    let server = TestServer::start(&db).await;
    let token = register(&server.url(), "alice").await;
    let connection = connect(&server.url(), &token).await;
    let _: results::Balance = connection.request(RequestBody::Balance).await.unwrap();

    let health = http_get(&server, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(health.ends_with("\r\n\r\nok\n"), "{health}");

    let metrics = http_get(&server, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    for line in [
        "\nquid_connections_open ",
        "quid_requests_total{type=\"register\",code=\"ok\"} 1\n",
        "quid_requests_total{type=\"balance\",code=\"ok\"} 1\n",
        "quid_fanout_dropped_total 0\n",
        "# TYPE quid_writer_batch_seconds histogram\n",
        "# TYPE quid_writer_batch_requests histogram\n",
    ] {
        assert!(metrics.contains(line), "{line:?} missing in:\n{metrics}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_session_unused_past_the_idle_limit_must_log_in_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = TestServer::start(&db).await;
    let (idle, fresh) = (
        register(&server.url(), "alice").await,
        register(&server.url(), "bob").await,
    );
    // Alice's session was last used 91 days ago (the default limit is 90).
    let long_ago = quid::protocol::TimestampMs::now().0 - 91 * 86_400_000;
    let hash = quid::server::auth::token_hash(&idle);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE tokens SET created_at_ms = ?1, last_used_at_ms = ?1 WHERE token_hash = ?2",
            rusqlite::params![long_ago, hash],
        )
        .unwrap();
    match Connection::open(&server.url(), Some(&idle)).await {
        Err(ConnectError::Unauthorized(why)) => {
            assert!(
                why.contains("expired after 90 days without use; log in again"),
                "{why}"
            )
        }
        other => panic!("an idle session connected: {:?}", other.map(|_| ())),
    }
    // A session in use is not touched by it.
    connect(&server.url(), &fresh).await;
    server.stop().await;
}

#[tokio::test]
async fn metrics_on_their_own_address_are_not_on_the_public_port() {
    let dir = tempfile::tempdir().unwrap();
    let config = quid::server::ServerConfig {
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    };
    let db = dir.path().join("server.db");
    let server = quid::server::Server::bind("127.0.0.1:0".parse().unwrap(), &db.location(), config)
        .await
        .unwrap();
    let (public, apart) = (server.local_addr().unwrap(), server.metrics_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let metrics = http_get_at(apart, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    assert!(metrics.contains("quid_connections_open"), "{metrics}");
    assert!(
        http_get_at(apart, "/healthz")
            .await
            .ends_with("\r\n\r\nok\n")
    );
    assert!(http_get_at(apart, "/v1").await.starts_with("HTTP/1.1 404"));
    let public_metrics = http_get_at(public, "/metrics").await;
    assert!(
        public_metrics.starts_with("HTTP/1.1 404"),
        "{public_metrics}"
    );
    assert!(!public_metrics.contains("quid_"), "{public_metrics}");
    assert!(
        http_get_at(public, "/healthz")
            .await
            .starts_with("HTTP/1.1 200 OK")
    );
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_malformed_username_at_login_is_refused_before_any_count_or_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server = process::ServerProcess::start_logging(
        &dir.path().join("server.db"),
        "127.0.0.1:0",
        Some(&log),
    );
    let url = url::Url::parse(&format!("ws://{}", server.addr)).unwrap();
    let forged_line = "alice\nINFO quid: admin logged in from 10.0.0.1";
    // As long as a frame can carry (64 KiB with the rest of the request).
    let huge = "a".repeat(60 * 1024);
    for username in [forged_line, huge.as_str()] {
        // Far past the five a username may try: none is counted, so none waits.
        for _ in 0..8 {
            let (connection, _) = Connection::open(&url, None).await.unwrap();
            connection.hello(None).await.unwrap();
            let refused: Result<results::Auth, _> = connection
                .request(RequestBody::Login(requests::Login {
                    username: username.into(),
                    password: "correct horse battery".into(),
                }))
                .await;
            let Err(RequestError::Api(error)) = refused else {
                panic!("{refused:?}");
            };
            assert_eq!(error.code, ErrorCode::InvalidArgument, "{}", error.message);
            assert!(error.message.len() < 300, "the refusal echoes it whole");
        }
    }
    drop(server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        !logged.contains("admin logged in"),
        "a forged line:\n{logged}"
    );
    assert!(
        !logged.contains(&huge[..1024]),
        "the 60 KiB name was logged"
    );
}

#[tokio::test]
async fn the_log_never_holds_a_password_a_token_or_a_pin() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    // At every level, trace included (where tungstenite would write whole frames).
    let server = process::ServerProcess::start_at_level(
        &dir.path().join("server.db"),
        "127.0.0.1:0",
        &[],
        Some(&log),
        "trace",
    );
    let url = url::Url::parse(&format!("ws://{}", server.addr)).unwrap();
    let password = "correct horse battery";
    let token = register(&url, "alice").await;
    register(&url, "bob").await;
    assert!(login(&url, "a wrong password 1234").await.is_err());
    let second = login(&url, password).await.unwrap().token;
    let alice = connect(&url, &token).await;
    set_pin(&alice, "97531").await;
    for pin in ["97531", "86420"] {
        let _ = pay_bob(&alice, pin).await;
    }
    // A token in a malformed header, and a revoked one, are logged about too.
    let _ = Connection::open(&url, Some("not a token at all")).await;
    let _: results::Empty = alice.request(RequestBody::Logout).await.unwrap();
    let _ = Connection::open(&url, Some(&token)).await;
    drop(server);

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("logged in"),
        "the log was written:\n{logged}"
    );
    for secret in [
        password,
        "a wrong password 1234",
        &token,
        &second,
        &quid::server::auth::token_hash(&token),
        "97531",
        "86420",
    ] {
        assert!(
            !logged.contains(secret),
            "{secret:?} is in the log:\n{logged}"
        );
    }
}

on_each_backend!(
    logout_closes_every_live_connection_of_that_token_at_once,
    a_revocation_by_another_process_closes_live_connections_within_a_second,
    sessions_are_listed_with_where_they_were_used_and_one_can_be_revoked,
    concurrent_wrong_pins_cannot_outrun_the_lock,
    health_and_metrics_are_served_next_to_the_websocket,
);
