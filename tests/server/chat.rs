//! Chat end to end: real server, real sessions, temporary database.

use crate::common::*;
use quid::protocol::requests;
use quid::protocol::{
    ClientMsgId, ConversationId, ErrorCode, Event, MessageId, RequestBody, results,
};
use quid::session::SessionEvent;
use quid::session::connection::{Connection, RequestError};
use quid::session::target::Target;

fn message_text(event: SessionEvent) -> Option<String> {
    match event {
        SessionEvent::Event {
            event: Event::Message { message },
            ..
        } => Some(message.text),
        _ => None,
    }
}

async fn two_users_chat_both_ways(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    let bob_token = register(&server.url(), "bob").await;
    let (alice, mut alice_events) = session(&server.url(), &alice_token, &db.path("alice"));
    let (bob, mut bob_events) = session(&server.url(), &bob_token, &db.path("bob"));
    caught_up(&mut alice_events).await;
    caught_up(&mut bob_events).await;

    alice
        .send_message(Target::User("bob".into()), "hi bob".into())
        .await
        .unwrap();
    assert_eq!(next_matching(&mut bob_events, message_text).await, "hi bob");

    bob.send_message(Target::User("alice".into()), "hi alice".into())
        .await
        .unwrap();
    let from_bob = next_matching(&mut alice_events, |e| {
        message_text(e).filter(|t| t != "hi bob")
    })
    .await;
    assert_eq!(from_bob, "hi alice");
    server.stop().await;
}

async fn send(
    connection: &Connection,
    conversation_id: ConversationId,
    text: &str,
) -> results::Sent {
    connection
        .request(RequestBody::Send(requests::Send {
            conversation_id,
            client_id: ClientMsgId::random(),
            text: text.into(),
            reply_to: None,
            file: None,
        }))
        .await
        .unwrap()
}

async fn history(
    connection: &Connection,
    conversation_id: ConversationId,
    before: Option<MessageId>,
    limit: u32,
) -> results::History {
    connection
        .request(RequestBody::History(requests::History {
            conversation_id,
            before,
            limit,
        }))
        .await
        .unwrap()
}

async fn history_pages_backwards_without_gaps_or_overlap(db: TestDb) {
    let server = TestServer::start(&db).await;
    register(&server.url(), "bob").await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let conversation = open_direct(&alice, "bob").await;
    for n in 0..25 {
        send(&alice, conversation, &format!("message {n}")).await;
    }
    let newest = history(&alice, conversation, None, 10).await;
    assert!(newest.has_more);
    let texts: Vec<_> = newest.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts.first(), Some(&"message 15"));
    assert_eq!(texts.last(), Some(&"message 24"));

    let middle = history(&alice, conversation, Some(newest.messages[0].id), 10).await;
    assert!(middle.has_more);
    assert_eq!(middle.messages[0].text, "message 5");
    assert_eq!(middle.messages[9].text, "message 14");

    let oldest = history(&alice, conversation, Some(middle.messages[0].id), 10).await;
    assert!(!oldest.has_more);
    let texts: Vec<_> = oldest.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "message 0",
            "message 1",
            "message 2",
            "message 3",
            "message 4"
        ]
    );
    server.stop().await;
}

async fn a_resend_with_the_same_client_id_stores_one_message(db: TestDb) {
    let server = TestServer::start(&db).await;
    register(&server.url(), "bob").await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let conversation = open_direct(&alice, "bob").await;
    let client_id = ClientMsgId::random();
    let body = RequestBody::Send(requests::Send {
        conversation_id: conversation,
        client_id,
        text: "only once".into(),
        reply_to: None,
        file: None,
    });
    let first: results::Sent = alice.request(body.clone()).await.unwrap();
    let second: results::Sent = alice.request(body).await.unwrap();
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(first.message, second.message);
    assert_eq!(
        history(&alice, conversation, None, 50).await.messages.len(),
        1
    );
    server.stop().await;
}

async fn a_non_member_is_forbidden(db: TestDb) {
    let server = TestServer::start(&db).await;
    register(&server.url(), "bob").await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let carol = connect(&server.url(), &register(&server.url(), "carol").await).await;
    let conversation = open_direct(&alice, "bob").await;
    send(&alice, conversation, "private").await;

    let requests = [
        RequestBody::History(requests::History {
            conversation_id: conversation,
            before: None,
            limit: 10,
        }),
        RequestBody::Send(requests::Send {
            conversation_id: conversation,
            client_id: ClientMsgId::random(),
            text: "let me in".into(),
            reply_to: None,
            file: None,
        }),
        RequestBody::MarkRead(requests::MarkRead {
            conversation_id: conversation,
            up_to: MessageId(1),
        }),
        RequestBody::History(requests::History {
            conversation_id: ConversationId(9999),
            before: None,
            limit: 10,
        }),
    ];
    for body in requests {
        let refused = carol.request_value(body.clone()).await.unwrap_err();
        match refused {
            RequestError::Api(error) => assert_eq!(error.code, ErrorCode::Forbidden, "{body:?}"),
            other => panic!("{body:?}: {other}"),
        }
    }
    assert_eq!(
        history(&alice, conversation, None, 10).await.messages.len(),
        1
    );
    server.stop().await;
}

async fn groups_fan_out_and_a_leaver_loses_access(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob_token = register(&server.url(), "bob").await;
    let bob = connect(&server.url(), &bob_token).await;
    register(&server.url(), "carol").await;
    let created: results::OneConversation = alice
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: "team".into(),
            members: vec!["bob".into()],
        }))
        .await
        .unwrap();
    let group = created.conversation.id;
    let _: results::OneConversation = bob
        .request(RequestBody::AddMember(requests::AddMember {
            conversation_id: group,
            username: "carol".into(),
        }))
        .await
        .unwrap();
    let same_name = alice
        .request_value(RequestBody::CreateGroup(requests::CreateGroup {
            name: "team".into(),
            members: vec![],
        }))
        .await
        .unwrap_err();
    assert!(matches!(same_name, RequestError::Api(e) if e.code == ErrorCode::Conflict));

    send(&alice, group, "hello team").await;
    let (_bob_session, mut bob_events) = session(&server.url(), &bob_token, &db.path("bob"));
    assert_eq!(
        next_matching(&mut bob_events, message_text).await,
        "hello team"
    );

    let _: results::Empty = bob
        .request(RequestBody::Leave(requests::Leave {
            conversation_id: group,
        }))
        .await
        .unwrap();
    let after_leaving = bob
        .request_value(RequestBody::History(requests::History {
            conversation_id: group,
            before: None,
            limit: 10,
        }))
        .await
        .unwrap_err();
    assert!(matches!(after_leaving, RequestError::Api(e) if e.code == ErrorCode::Forbidden));
    let list: results::Conversations = alice.request(RequestBody::Conversations).await.unwrap();
    let members: Vec<_> = list.conversations[0]
        .members
        .iter()
        .map(|m| m.username.as_str())
        .collect();
    assert_eq!(members, ["alice", "carol"]);
    server.stop().await;
}

async fn unread_counts_follow_mark_read_and_survive_a_restart(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    let bob_token = register(&server.url(), "bob").await;
    let alice = connect(&server.url(), &alice_token).await;
    let conversation = open_direct(&alice, "bob").await;
    let mut last = None;
    for n in 0..3 {
        last = Some(
            send(&alice, conversation, &format!("unread {n}"))
                .await
                .message
                .id,
        );
    }
    let bob = connect(&server.url(), &bob_token).await;
    let _: results::Empty = bob
        .request(RequestBody::MarkRead(requests::MarkRead {
            conversation_id: conversation,
            up_to: MessageId(last.unwrap().0 - 1),
        }))
        .await
        .unwrap();
    drop((alice, bob));
    server.stop().await;

    let server = TestServer::start(&db).await;
    let bob = connect(&server.url(), &bob_token).await;
    let list: results::Conversations = bob.request(RequestBody::Conversations).await.unwrap();
    assert_eq!(list.conversations[0].unread, 1);
    let alice = connect(&server.url(), &alice_token).await;
    let list: results::Conversations = alice.request(RequestBody::Conversations).await.unwrap();
    assert_eq!(
        list.conversations[0].unread, 0,
        "your own messages are never unread"
    );
    server.stop().await;
}

/// A reply moves the reader's marker (and says so by being a message); conversations and
/// history carry how far the others read, also after a restart.
async fn read_state_comes_with_conversations_and_history_and_survives_a_restart(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    let alice = connect(&server.url(), &alice_token).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let conversation = open_direct(&alice, "bob").await;
    let hello = send(&alice, conversation, "hello bob").await.message.id;
    let others_read = |list: &results::Conversations| list.conversations[0].others_read_up_to;
    let list: results::Conversations = alice.request(RequestBody::Conversations).await.unwrap();
    assert_eq!(others_read(&list), None, "bob has read nothing yet");

    let reply = send(&bob, conversation, "hi alice").await.message.id;
    let list: results::Conversations = alice.request(RequestBody::Conversations).await.unwrap();
    assert_eq!(others_read(&list), Some(reply));
    assert!(reply > hello);
    drop((alice, bob));
    server.stop().await;

    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &alice_token).await;
    let page = history(&alice, conversation, None, 10).await;
    assert_eq!(page.others_read_up_to, Some(reply));
    let list: results::Conversations = alice.request(RequestBody::Conversations).await.unwrap();
    assert_eq!(others_read(&list), Some(reply));
    server.stop().await;
}

/// What a member's session is handed of a group's log: from after they were added to their
/// own `member_left`, live and replayed alike; nothing from before or after.
async fn a_member_reads_the_log_only_while_a_member(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    register(&server.url(), "bob").await;
    let carol_token = register(&server.url(), "carol").await;
    let carol = connect(&server.url(), &carol_token).await;
    let created: results::OneConversation = alice
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: "team".into(),
            members: vec!["bob".into()],
        }))
        .await
        .unwrap();
    let group = created.conversation.id;
    send(&alice, group, "before carol").await;
    let _: results::OneConversation = alice
        .request(RequestBody::AddMember(requests::AddMember {
            conversation_id: group,
            username: "carol".into(),
        }))
        .await
        .unwrap();
    send(&alice, group, "while carol").await;

    let (_live, mut live) = session(&server.url(), &carol_token, &db.path("carol"));
    let _: results::Empty = carol
        .request(RequestBody::Leave(requests::Leave {
            conversation_id: group,
        }))
        .await
        .unwrap();
    send(&alice, group, "after carol").await;
    // A direct message after everything: whatever carol was sent of the group came before it.
    let direct = open_direct(&alice, "carol").await;
    send(&alice, direct, "marker").await;
    let expected = ["while carol", "carol left", "marker"];
    assert_eq!(seen_until_marker(&mut live).await, expected, "live");

    let (_replayed, mut replayed) = session(&server.url(), &carol_token, &db.path("carol-2"));
    assert_eq!(seen_until_marker(&mut replayed).await, expected, "replayed");
    server.stop().await;
}

/// The group messages and member departures a session hands on, up to the "marker" message.
async fn seen_until_marker(events: &mut tokio::sync::mpsc::Receiver<SessionEvent>) -> Vec<String> {
    let mut seen = Vec::new();
    while seen.last().is_none_or(|last| last != "marker") {
        let next = next_matching(events, |event| match event {
            SessionEvent::Event {
                event: Event::Message { message },
            } => Some(message.text),
            SessionEvent::Event {
                event: Event::MemberLeft { user, .. },
            } => Some(format!("{} left", user.username)),
            _ => None,
        })
        .await;
        seen.push(next);
    }
    seen
}

on_each_backend!(
    read_state_comes_with_conversations_and_history_and_survives_a_restart,
    two_users_chat_both_ways,
    history_pages_backwards_without_gaps_or_overlap,
    a_resend_with_the_same_client_id_stores_one_message,
    a_non_member_is_forbidden,
    groups_fan_out_and_a_leaver_loses_access,
    unread_counts_follow_mark_read_and_survive_a_restart,
    a_member_reads_the_log_only_while_a_member,
);
