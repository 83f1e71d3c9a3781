//! Cut connections: a client resumes from its last seq and positions and gets exactly what it
//! missed; a
//! message written while offline, or while the server refuses the session's token, waits in
//! the outbox and is sent exactly once.

use crate::common::proxy::Proxy;
use crate::common::*;
use quid::protocol::requests;
use quid::protocol::{ClientMsgId, ConversationId, Event, RequestBody, results};
use quid::server::ServerConfig;
use quid::session::connection::Connection;
use quid::session::target::Target;
use quid::session::{SessionError, SessionEvent};
use std::collections::HashSet;
use std::num::NonZeroU32;

async fn a_client_cut_off_mid_stream_gets_exactly_what_it_missed(db: TestDb) {
    const TOTAL: usize = 60;
    // Alice sends faster than the default rate limit allows; that limit is not under test here.
    let config = ServerConfig {
        rate_per_second: NonZeroU32::new(10_000).unwrap(),
        rate_burst: NonZeroU32::new(10_000).unwrap(),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&db, config).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob_token = register(&server.url(), "bob").await;
    let conversation_id = open_direct(&alice, "bob").await;

    let proxy = Proxy::start(server.addr).await;
    let (_bob, mut bob_events) = session(&proxy.url(), &bob_token, &db.path("bob"));
    caught_up(&mut bob_events).await;

    // Alice keeps talking while Bob's link is cut and restored underneath the stream.
    let sender = tokio::spawn(async move {
        for n in 0..TOTAL {
            let _: results::Sent = alice
                .request(RequestBody::Send(requests::Send {
                    conversation_id,
                    client_id: ClientMsgId::random(),
                    text: format!("message {n}"),
                    reply_to: None,
                    file: None,
                }))
                .await
                .unwrap();
        }
    });

    let mut seen = Vec::new();
    let mut ids = HashSet::new();
    let mut disconnects = 0;
    while seen.len() < TOTAL {
        let event = next_matching(&mut bob_events, Some).await;
        match event {
            SessionEvent::Event {
                event: Event::Message { message },
            } => {
                assert!(
                    ids.insert(message.id),
                    "message {} delivered twice",
                    message.id
                );
                seen.push(message.text);
                if seen.len() == TOTAL / 3 {
                    proxy.cut();
                }
            }
            SessionEvent::Disconnected { .. } => {
                disconnects += 1;
                proxy.restore();
            }
            _ => {}
        }
    }
    sender.await.unwrap();
    assert!(disconnects >= 1, "the cut must actually have happened");
    let expected: Vec<_> = (0..TOTAL).map(|n| format!("message {n}")).collect();
    assert_eq!(seen, expected, "every message once, in order");
    server.stop().await;
}

async fn a_message_written_offline_is_sent_once_when_connected(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let proxy = Proxy::start(server.addr).await;
    proxy.cut();

    let (alice, mut alice_events) = session(&proxy.url(), &alice_token, &db.path("alice"));
    next_matching(&mut alice_events, |e| {
        matches!(e, SessionEvent::Disconnected { .. }).then_some(())
    })
    .await;
    let client_id = alice
        .send_message(Target::User("bob".into()), "written offline".into())
        .await
        .unwrap();
    proxy.restore();
    let sent = next_matching(&mut alice_events, |e| match e {
        SessionEvent::Sent {
            client_id: id,
            message,
        } if id == client_id => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(sent.text, "written offline");

    assert_eq!(
        texts_in(&bob, sent.conversation_id).await,
        ["written offline"]
    );
    server.stop().await;
}

async fn the_outbox_survives_the_client_process_and_is_not_sent_twice(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let alice_dir = db.path("alice");
    let proxy = Proxy::start(server.addr).await;
    proxy.cut();
    {
        // A first "run" queues two messages while offline, then quits.
        let (alice, mut events) = session(&proxy.url(), &alice_token, &alice_dir);
        next_matching(&mut events, |e| {
            matches!(e, SessionEvent::Disconnected { .. }).then_some(())
        })
        .await;
        for text in ["first", "second"] {
            alice
                .send_message(Target::User("bob".into()), text.into())
                .await
                .unwrap();
        }
    }
    proxy.restore();
    // A second run sends them, in order.
    let (_alice, mut events) = session(&proxy.url(), &alice_token, &alice_dir);
    let mut sent = Vec::new();
    while sent.len() < 2 {
        let message = next_matching(&mut events, |e| match e {
            SessionEvent::Sent { message, .. } => Some(message),
            _ => None,
        })
        .await;
        sent.push(message);
    }
    assert_eq!(
        texts_in(&bob, sent[0].conversation_id).await,
        ["first", "second"]
    );
    server.stop().await;
}

async fn a_message_written_after_the_token_is_refused_is_sent_once_logged_in_again(db: TestDb) {
    let server = TestServer::start(&db).await;
    let revoked = register(&server.url(), "alice").await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    // alice logs out elsewhere: the token this session holds is refused from now on.
    let _: results::Empty = connect(&server.url(), &revoked)
        .await
        .request(RequestBody::Logout)
        .await
        .unwrap();
    let alice_dir = db.path("alice");
    let (alice, mut events) = session(&server.url(), &revoked, &alice_dir);
    next_matching(&mut events, |e| {
        matches!(e, SessionEvent::AuthRejected { .. }).then_some(())
    })
    .await;

    // Written while refused: kept in the outbox, not refused.
    let client_id = alice
        .send_message(
            Target::User("bob".into()),
            "written while logged out".into(),
        )
        .await
        .unwrap();
    let request = alice.request::<results::Empty>(RequestBody::Logout).await;
    assert!(
        matches!(request, Err(SessionError::LoggedOut)),
        "{request:?}"
    );
    let wrong = alice
        .log_in("alice".into(), "not the password".into())
        .await;
    assert!(matches!(wrong, Err(SessionError::LogIn(_))), "{wrong:?}");

    alice
        .log_in("alice".into(), "correct horse battery".into())
        .await
        .unwrap();
    let sent = next_matching(&mut events, |e| match e {
        SessionEvent::Sent {
            client_id: id,
            message,
        } if id == client_id => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(
        texts_in(&bob, sent.conversation_id).await,
        ["written while logged out"]
    );
    // The new token is the profile's from now on: the next start uses it.
    let saved = quid::session::state::read_token(&alice_dir).unwrap();
    assert!(saved.is_some_and(|token| token != revoked));
    server.stop().await;
}

/// The texts of the newest messages of `conversation_id`, as `reader` reads its history.
async fn texts_in(reader: &Connection, conversation_id: ConversationId) -> Vec<String> {
    let history: results::History = reader
        .request(RequestBody::History(requests::History {
            conversation_id,
            before: None,
            limit: 10,
        }))
        .await
        .unwrap();
    history.messages.into_iter().map(|m| m.text).collect()
}

on_each_backend!(
    a_client_cut_off_mid_stream_gets_exactly_what_it_missed,
    a_message_written_offline_is_sent_once_when_connected,
    the_outbox_survives_the_client_process_and_is_not_sent_twice,
    a_message_written_after_the_token_is_refused_is_sent_once_logged_in_again,
);
