//! The protocol's edges, spoken as raw frames over a real websocket.

use crate::common::*;
use futures_util::{SinkExt, StreamExt};
use quid::protocol::requests;
use quid::protocol::{ErrorCode, RequestBody, results};
use quid::server::ServerConfig;
use quid::session::connection::{ConnectError, Connection};
use serde_json::{Value, json};
use std::num::NonZeroU32;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn raw(server: &TestServer, token: Option<&str>) -> Socket {
    let mut request = format!("ws://{}/v1", server.addr)
        .into_client_request()
        .unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next text frame, as JSON (pings and pongs skipped).
async fn recv(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("no websocket error");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn ask(socket: &mut Socket, frame: Value) -> Value {
    socket.send(Message::text(frame.to_string())).await.unwrap();
    recv(socket).await
}

/// The next frame is a close with `code`.
async fn expect_close(socket: &mut Socket, code: CloseCode) {
    let close = tokio::time::timeout(PATIENCE, socket.next()).await.unwrap();
    match close {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, code),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

async fn hello(socket: &mut Socket) {
    let reply = ask(socket, json!({"id": 1, "type": "hello", "version": 2})).await;
    assert_eq!(reply["type"], "ok", "{reply}");
}

#[tokio::test]
async fn a_malformed_frame_gets_bad_frame_and_the_connection_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    let token = register(&server.url(), "alice").await;
    let mut socket = raw(&server, Some(&token)).await;
    hello(&mut socket).await;

    let reply = ask(&mut socket, json!("{not json")).await;
    assert_eq!(reply["code"], "bad_frame", "{reply}");
    socket.send(Message::text("{not json")).await.unwrap();
    let reply = recv(&mut socket).await;
    assert_eq!(
        (reply["type"].as_str(), reply["code"].as_str()),
        (Some("error"), Some("bad_frame"))
    );
    assert!(reply["id"].is_null());

    let reply = ask(
        &mut socket,
        json!({"id": 5, "type": "send", "text": "no conversation"}),
    )
    .await;
    assert_eq!(
        (reply["id"].as_u64(), reply["code"].as_str()),
        (Some(5), Some("bad_frame")),
        "{reply}"
    );

    let reply = ask(&mut socket, json!({"id": 6, "type": "teleport"})).await;
    assert_eq!(
        (reply["id"].as_u64(), reply["code"].as_str()),
        (Some(6), Some("unknown_type"))
    );

    let reply = ask(&mut socket, json!({"id": 7, "type": "conversations"})).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    assert_eq!(reply["id"], 7);
    server.stop().await;
}

#[tokio::test]
async fn hello_comes_first_and_an_unknown_version_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    let token = register(&server.url(), "alice").await;

    let mut socket = raw(&server, Some(&token)).await;
    let reply = ask(&mut socket, json!({"id": 1, "type": "conversations"})).await;
    assert_eq!(reply["code"], "hello_required");

    let mut socket = raw(&server, Some(&token)).await;
    let reply = ask(
        &mut socket,
        json!({"id": 1, "type": "hello", "version": 99}),
    )
    .await;
    assert_eq!(reply["code"], "unsupported_version");
    assert!(
        reply["message"].as_str().unwrap().contains("version 2"),
        "{reply}"
    );

    // A client of protocol 1 (per-user streams only) is told to upgrade, in words.
    let mut socket = raw(&server, Some(&token)).await;
    let reply = ask(
        &mut socket,
        json!({"id": 1, "type": "hello", "version": 1, "resume_after": 0}),
    )
    .await;
    assert_eq!(reply["code"], "unsupported_version");
    assert_eq!(
        reply["message"],
        "this server speaks protocol version 2, not 1; upgrade quid"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_is_refused_and_the_connection_closed() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        max_frame_bytes: 2048,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&dir.path().join("server.db"), config).await;
    let token = register(&server.url(), "alice").await;
    let mut socket = raw(&server, Some(&token)).await;
    hello(&mut socket).await;
    let big = json!({"id": 2, "type": "conversations", "padding": "x".repeat(4096)});
    let reply = ask(&mut socket, big).await;
    assert_eq!(reply["code"], "frame_too_large", "{reply}");
    expect_close(&mut socket, CloseCode::Size).await;
    server.stop().await;
}

#[tokio::test]
async fn a_bad_token_gets_401_before_any_frame() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    match Connection::open(&server.url(), Some("not-a-token")).await {
        Err(ConnectError::Unauthorized(body)) => assert!(body.contains("token"), "{body}"),
        Err(other) => panic!("expected 401, got {other}"),
        Ok(_) => panic!("expected 401, got a connection"),
    }
    server.stop().await;
}

/// Writes `requests` on one connection and reads until the server closes it.
async fn exchange(server: &TestServer, requests: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(requests.as_bytes()).await.unwrap();
    let mut answers = String::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_string(&mut answers))
        .await
        .expect("the server closes after the last request")
        .unwrap();
    answers
}

#[tokio::test]
async fn the_port_answers_plain_requests_in_turn_and_refuses_a_wrong_upgrade_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    // Keep-alive: two requests on one connection, two answers.
    let answers = exchange(
        &server,
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        answers.matches("HTTP/1.1 200 OK\r\n").count(),
        2,
        "{answers}"
    );

    let upgrade = |path: &str, version: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: {version}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
    };
    let wrong_path = exchange(&server, &upgrade("/v2", "13")).await;
    assert!(wrong_path.starts_with("HTTP/1.1 404"), "{wrong_path}");
    assert!(
        wrong_path.ends_with("quid speaks its protocol at /v1"),
        "{wrong_path}"
    );
    let wrong_version = exchange(&server, &upgrade("/v1", "8")).await;
    assert!(wrong_version.starts_with("HTTP/1.1 426"), "{wrong_version}");

    // The right one switches, with the answer RFC 6455 gives for that key.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(upgrade("/v1", "13").as_bytes())
        .await
        .unwrap();
    let mut head = vec![0u8; 1024];
    let read = tcp.read(&mut head).await.unwrap();
    let head = String::from_utf8_lossy(&head[..read]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
        "{head}"
    );
    server.stop().await;
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    let token = register(&server.url(), "alice").await;
    let connection = connect(&server.url(), &token).await;
    let _: results::Empty = connection.request(RequestBody::Logout).await.unwrap();
    assert!(matches!(
        Connection::open(&server.url(), Some(&token)).await,
        Err(ConnectError::Unauthorized(_))
    ));
    server.stop().await;
}

#[tokio::test]
async fn anonymous_connections_may_only_register_and_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    register(&server.url(), "alice").await;
    let mut socket = raw(&server, None).await;
    hello(&mut socket).await;
    let reply = ask(&mut socket, json!({"id": 2, "type": "conversations"})).await;
    assert_eq!(reply["code"], "unauthenticated");
    let reply = ask(
        &mut socket,
        json!({"id": 3, "type": "login", "username": "alice", "password": "wrong password"}),
    )
    .await;
    assert_eq!(reply["code"], "invalid_credentials");
    let reply = ask(
        &mut socket,
        json!({"id": 4, "type": "register", "username": "alice", "password": "whatever123"}),
    )
    .await;
    assert_eq!(reply["code"], "username_taken");
    let reply = ask(
        &mut socket,
        json!({"id": 5, "type": "login", "username": "alice", "password": "correct horse battery"}),
    )
    .await;
    assert_eq!(reply["type"], "ok");
    assert_eq!(reply["result"]["user"]["username"], "alice");
    server.stop().await;
}

#[tokio::test]
async fn a_flood_is_answered_with_rate_limited_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        rate_per_second: NonZeroU32::new(1).unwrap(),
        rate_burst: NonZeroU32::new(3).unwrap(),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&dir.path().join("server.db"), config).await;
    let token = register(&server.url(), "alice").await;
    let mut socket = raw(&server, Some(&token)).await;
    hello(&mut socket).await;
    let mut codes = Vec::new();
    for id in 2..10 {
        let reply = ask(&mut socket, json!({"id": id, "type": "conversations"})).await;
        assert_eq!(reply["id"], id, "every request gets its own reply");
        codes.push(reply["code"].as_str().unwrap_or("ok").to_owned());
        if reply["code"] == "rate_limited" {
            assert!(reply["retry_after_ms"].as_u64().unwrap() <= 1000);
        }
    }
    assert!(codes.iter().any(|c| c == "ok"));
    assert!(codes.iter().any(|c| c == "rate_limited"), "{codes:?}");
    assert_eq!(ErrorCode::RateLimited.as_str(), "rate_limited");
    server.stop().await;
}

#[tokio::test]
async fn a_silent_peer_is_dropped_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        idle_timeout: std::time::Duration::from_millis(200),
        ping_interval: std::time::Duration::from_secs(3600),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&dir.path().join("server.db"), config).await;
    let token = register(&server.url(), "alice").await;
    let mut socket = raw(&server, Some(&token)).await;
    hello(&mut socket).await;
    // Say nothing more: the server must give up on us and close.
    let end = tokio::time::timeout(PATIENCE, socket.next()).await.unwrap();
    assert!(
        matches!(end, None | Some(Ok(Message::Close(_))) | Some(Err(_))),
        "expected the connection to end, got {end:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn typing_reaches_the_other_members_online_and_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob_token = register(&server.url(), "bob").await;
    let conversation_id = open_direct(&alice, "bob").await;
    let mut bob = raw(&server, Some(&bob_token)).await;
    let reply = ask(
        &mut bob,
        json!({"id": 1, "type": "hello", "version": 2, "resume_after": 0}),
    )
    .await;
    assert_eq!(reply["type"], "ok");
    // Bob's replay: the joined event, then caught_up.
    while recv(&mut bob).await["type"] != "caught_up" {}

    let _: results::Empty = alice
        .request(RequestBody::Typing(requests::Typing { conversation_id }))
        .await
        .unwrap();
    let typing = recv(&mut bob).await;
    assert_eq!(typing["type"], "typing", "{typing}");
    assert_eq!(typing["user"]["username"], "alice");
    assert!(typing.get("seq").is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_frame_one_byte_over_the_limit_is_refused_with_close_code_1009() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    let token = register(&server.url(), "alice").await;
    let mut socket = raw(&server, Some(&token)).await;
    hello(&mut socket).await;
    let limit = quid::protocol::DEFAULT_MAX_FRAME_BYTES;
    let frame = json!({"id": 2, "type": "conversations", "padding": ""}).to_string();
    let padded = frame.replace(
        "\"padding\":\"\"",
        &format!("\"padding\":\"{}\"", "x".repeat(limit + 1 - frame.len())),
    );
    assert_eq!(padded.len(), limit + 1);
    socket.send(Message::text(padded)).await.unwrap();
    let reply = recv(&mut socket).await;
    assert_eq!(reply["code"], "frame_too_large", "{reply}");
    expect_close(&mut socket, CloseCode::Size).await;
    server.stop().await;
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    let mut socket = raw(&server, None).await;
    hello(&mut socket).await;
    let frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        vec![b'{', 0xff, 0xfe, b'}'],
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    );
    socket.send(Message::Frame(frame)).await.unwrap();
    expect_close(&mut socket, CloseCode::Invalid).await;
    server.stop().await;
}

#[tokio::test]
async fn currencies_are_exact_codes_and_resume_after_is_never_negative() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    let token = register(&server.url(), "alice").await;
    let mut socket = raw(&server, Some(&token)).await;
    let reply = ask(
        &mut socket,
        json!({"id": 1, "type": "hello", "version": 2, "resume_after": -1}),
    )
    .await;
    assert_eq!(reply["code"], "bad_frame", "{reply}");
    assert!(reply["message"].as_str().unwrap().contains("resume_after"));
    hello(&mut socket).await;
    let pay = json!({"id": 2, "type": "pay", "to": "bob", "idempotency_key": "k1",
                     "amount": {"amount_minor": 100, "currency": "eur"}});
    let reply = ask(&mut socket, pay).await;
    assert_eq!(reply["code"], "bad_frame", "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("\"EUR\""),
        "{reply}"
    );
    server.stop().await;
}

/// Each refusal docs/PROTOCOL.md names, with the code it names: the form of a value is
/// `bad_frame`, a well-formed value the request cannot take is `invalid_argument`.
#[tokio::test]
async fn each_documented_refusal_answers_its_documented_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server.db")).await;
    register(&server.url(), "bob").await;
    let token = register(&server.url(), "alice").await;
    let mut socket = raw(&server, Some(&token)).await;
    hello(&mut socket).await;
    let direct = ask(
        &mut socket,
        json!({"id": 2, "type": "open_direct", "username": "bob"}),
    )
    .await;
    let conversation = direct["result"]["conversation"]["id"].clone();
    let cases = [
        (json!({"type": "hello", "version": 2}), "invalid_argument"),
        (
            json!({"type": "send", "conversation_id": conversation, "client_id": "not-a-uuid", "text": "hi"}),
            "bad_frame",
        ),
        (
            json!({"type": "history", "conversation_id": conversation, "limit": -1}),
            "bad_frame",
        ),
        (
            json!({"type": "history", "conversation_id": conversation, "limit": 0}),
            "invalid_argument",
        ),
        (
            json!({"type": "history", "conversation_id": conversation, "limit": 201}),
            "invalid_argument",
        ),
        (
            json!({"type": "split", "conversation_id": conversation, "idempotency_key": "s1",
                "amount": {"amount_minor": 100, "currency": "EUR"}}),
            "invalid_argument",
        ),
        (
            json!({"type": "pay_request", "request_id": 99, "idempotency_key": "p1"}),
            "not_found",
        ),
        (
            json!({"type": "pay_invoice", "invoice_id": 99, "idempotency_key": "p2"}),
            "not_found",
        ),
        (
            json!({"type": "revoke_session", "session_id": "nope"}),
            "not_found",
        ),
    ];
    for (n, (mut frame, code)) in cases.into_iter().enumerate() {
        frame["id"] = json!(10 + n);
        let reply = ask(&mut socket, frame.clone()).await;
        assert_eq!(reply["code"], code, "{frame} -> {reply}");
    }
    server.stop().await;
}
