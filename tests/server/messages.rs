//! Replies, edits, deletes and reactions end to end (issue 12), on each backend: what every
//! member sees, what history returns afterwards, and each refusal with its code.

use crate::common::*;
use quid::protocol::requests;
use quid::protocol::{
    ClientMsgId, ConversationId, ErrorCode, Event, Message, MessageId, RequestBody, results,
};
use quid::session::SessionEvent;
use quid::session::connection::{Connection, RequestError};

async fn send_reply(
    connection: &Connection,
    conversation_id: ConversationId,
    text: &str,
    reply_to: Option<MessageId>,
) -> Result<Message, RequestError> {
    let sent: results::Sent = connection
        .request(RequestBody::Send(requests::Send {
            conversation_id,
            client_id: ClientMsgId::random(),
            text: text.into(),
            reply_to,
            file: None,
        }))
        .await?;
    Ok(sent.message)
}

async fn send(connection: &Connection, conversation_id: ConversationId, text: &str) -> Message {
    send_reply(connection, conversation_id, text, None)
        .await
        .unwrap()
}

async fn act(connection: &Connection, body: RequestBody) -> Result<Message, ErrorCode> {
    match connection.request::<results::OneMessage>(body).await {
        Ok(one) => Ok(one.message),
        Err(RequestError::Api(error)) => Err(error.code),
        Err(other) => panic!("{other:?}"),
    }
}

fn edit(message_id: MessageId, text: &str) -> RequestBody {
    RequestBody::EditMessage(requests::EditMessage {
        message_id,
        text: text.into(),
    })
}

fn delete(message_id: MessageId) -> RequestBody {
    RequestBody::DeleteMessage(requests::DeleteMessage { message_id })
}

fn react(message_id: MessageId, emoji: &str, remove: bool) -> RequestBody {
    RequestBody::React(requests::React {
        message_id,
        emoji: emoji.into(),
        remove,
    })
}

async fn history(connection: &Connection, conversation_id: ConversationId) -> Vec<Message> {
    let page: results::History = connection
        .request(RequestBody::History(requests::History {
            conversation_id,
            before: None,
            limit: 50,
        }))
        .await
        .unwrap();
    page.messages
}

fn updated(event: SessionEvent) -> Option<Message> {
    match event {
        SessionEvent::Event {
            event: Event::MessageUpdated { message },
            ..
        } => Some(message),
        _ => None,
    }
}

async fn a_reply_quotes_its_original_from_the_same_conversation_only(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    register(&server.url(), "carol").await;
    let direct = open_direct(&alice, "bob").await;
    let elsewhere = open_direct(&alice, "carol").await;
    let question = send(&alice, direct, "lunch tomorrow?").await;
    let other = send(&alice, elsewhere, "hi carol").await;

    let answer = send_reply(&bob, direct, "yes!", Some(question.id))
        .await
        .unwrap();
    let quote = answer.reply_to.as_deref().expect("a quote");
    assert_eq!(
        (quote.id, quote.text.as_str()),
        (question.id, "lunch tomorrow?")
    );
    assert_eq!(quote.sender.username, "alice");
    let seen = history(&alice, direct).await;
    assert_eq!(seen[1].reply_to.as_deref().map(|q| q.id), Some(question.id));

    for wrong in [other.id, MessageId(9_999)] {
        let refused = send_reply(&bob, direct, "no", Some(wrong))
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, RequestError::Api(e) if e.code == ErrorCode::InvalidArgument
                && e.message.contains("is not in conversation")),
            "{refused:?}"
        );
    }
    assert_eq!(history(&alice, direct).await.len(), 2, "nothing was stored");
    server.stop().await;
}

async fn edits_and_deletes_are_the_senders_own_and_every_member_hears_of_them(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob_token = register(&server.url(), "bob").await;
    let bob = connect(&server.url(), &bob_token).await;
    let direct = open_direct(&alice, "bob").await;
    let original = send(&alice, direct, "lunch at noon").await;
    let (_bob_session, mut bob_events) = session(&server.url(), &bob_token, &db.path("bob"));
    caught_up(&mut bob_events).await;

    let edited = act(&alice, edit(original.id, "lunch at one"))
        .await
        .unwrap();
    assert_eq!(edited.text, "lunch at one");
    assert_eq!(
        edited.sent_at, original.sent_at,
        "an edit keeps the original time"
    );
    assert!(edited.edited_at.is_some());
    let heard = next_matching(&mut bob_events, updated).await;
    assert_eq!(heard.text, "lunch at one");
    let found: results::Search = alice
        .request(RequestBody::Search(requests::Search {
            query: "noon".into(),
            conversation_id: None,
            from: None,
            limit: 10,
        }))
        .await
        .unwrap();
    assert!(found.hits.is_empty(), "the old text is no longer found");

    assert_eq!(
        act(&bob, edit(original.id, "mine now")).await,
        Err(ErrorCode::Forbidden)
    );
    assert_eq!(
        act(&bob, delete(original.id)).await,
        Err(ErrorCode::Forbidden)
    );
    assert_eq!(
        act(&alice, edit(MessageId(9_999), "x")).await,
        Err(ErrorCode::NotFound)
    );
    assert_eq!(
        act(&alice, edit(original.id, " ")).await,
        Err(ErrorCode::InvalidArgument)
    );

    act(&bob, react(original.id, "👍", false)).await.unwrap();
    let deleted = act(&alice, delete(original.id)).await.unwrap();
    assert!(deleted.deleted && deleted.text.is_empty());
    assert!(
        deleted.reactions.is_empty(),
        "a tombstone keeps no reactions"
    );
    let heard = next_matching(&mut bob_events, |e| updated(e).filter(|m| m.deleted)).await;
    assert_eq!(heard.id, original.id);
    let again = act(&alice, delete(original.id)).await.unwrap();
    assert!(again.deleted, "deleting twice changes nothing");
    assert_eq!(
        act(&alice, edit(original.id, "back")).await,
        Err(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        act(&bob, react(original.id, "👍", false)).await,
        Err(ErrorCode::InvalidArgument)
    );
    let seen = history(&bob, direct).await;
    assert!(seen[0].deleted && seen[0].text.is_empty(), "{seen:?}");

    // A payment's card is not text: it cannot be edited or deleted.
    mint(&db, "alice", eur(500));
    let paid: results::Paid = alice
        .request(RequestBody::Pay(requests::Pay {
            to: "bob".into(),
            amount: eur(100),
            memo: "lunch".into(),
            conversation_id: None,
            idempotency_key: quid::protocol::payments::IdempotencyKey::random(),
            pin: None,
        }))
        .await
        .unwrap();
    let card = history(&alice, direct)
        .await
        .into_iter()
        .find(|m| m.card.is_some())
        .expect("the payment's card");
    assert_eq!(
        act(&alice, edit(card.id, "free lunch")).await,
        Err(ErrorCode::InvalidArgument)
    );
    assert_eq!(
        act(&alice, delete(card.id)).await,
        Err(ErrorCode::InvalidArgument)
    );
    assert!(!paid.duplicate);
    server.stop().await;
}

async fn reactions_are_added_taken_back_and_refused_to_outsiders(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let carol = connect(&server.url(), &register(&server.url(), "carol").await).await;
    let direct = open_direct(&alice, "bob").await;
    let message = send(&alice, direct, "we won").await;

    act(&bob, react(message.id, "🎉", false)).await.unwrap();
    act(&bob, react(message.id, "🎉", false)).await.unwrap();
    let both = act(&alice, react(message.id, "🎉", false)).await.unwrap();
    assert_eq!(both.reactions.len(), 1);
    let names: Vec<_> = both.reactions[0]
        .users
        .iter()
        .map(|u| u.username.as_str())
        .collect();
    assert_eq!(names, ["alice", "bob"], "once each, however often asked");
    act(&bob, react(message.id, "❤️", false)).await.unwrap();
    let after = act(&bob, react(message.id, "🎉", true)).await.unwrap();
    let summary: Vec<_> = after
        .reactions
        .iter()
        .map(|r| (r.emoji.as_str(), r.users.len()))
        .collect();
    assert_eq!(summary, [("❤️", 1), ("🎉", 1)]);
    assert_eq!(history(&alice, direct).await[0].reactions, after.reactions);

    assert_eq!(
        act(&carol, react(message.id, "👍", false)).await,
        Err(ErrorCode::Forbidden)
    );
    for bad in ["", "ab", "👍👍", "a", ",", "\u{7}"] {
        assert_eq!(
            act(&bob, react(message.id, bad, false)).await,
            Err(ErrorCode::InvalidArgument),
            "{bad:?}"
        );
    }
    server.stop().await;
}

async fn mentions_are_counted_for_the_mentioned_and_mute_is_kept(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    let alice = connect(&server.url(), &alice_token).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let carol = connect(&server.url(), &register(&server.url(), "carol").await).await;
    register(&server.url(), "dave").await;
    let created: results::OneConversation = alice
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: "team".into(),
            members: vec!["bob".into(), "carol".into()],
        }))
        .await
        .unwrap();
    let team = created.conversation.id;
    let look = send(&bob, team, "@alice look at this, @alice").await;
    send(&bob, team, "hi all, mail bob@example.com or @dave").await;
    let counts = |list: &results::Conversations| {
        let c = &list.conversations[0];
        (c.unread, c.unread_mentions)
    };
    let list: results::Conversations = alice.request(RequestBody::Conversations).await.unwrap();
    assert_eq!(counts(&list), (2, 1));
    let list: results::Conversations = carol.request(RequestBody::Conversations).await.unwrap();
    assert_eq!(counts(&list), (2, 0));

    act(&bob, edit(look.id, "look at this")).await.unwrap();
    let list: results::Conversations = alice.request(RequestBody::Conversations).await.unwrap();
    assert_eq!(
        counts(&list),
        (2, 0),
        "an edit that drops the mention drops the count"
    );
    act(&bob, edit(look.id, "look, @alice")).await.unwrap();
    let list: results::Conversations = alice.request(RequestBody::Conversations).await.unwrap();
    assert_eq!(counts(&list), (2, 1));

    let (_other_device, mut alice_events) = session(&server.url(), &alice_token, &db.path("alice"));
    caught_up(&mut alice_events).await;
    let muted: results::OneConversation = alice
        .request(RequestBody::Mute(requests::Mute {
            conversation_id: team,
            muted: true,
        }))
        .await
        .unwrap();
    assert!(muted.conversation.muted);
    let heard = next_matching(&mut alice_events, |event| match event {
        SessionEvent::Event {
            event: Event::ConversationUpdated { conversation },
            ..
        } => Some(conversation),
        _ => None,
    })
    .await;
    assert!(heard.muted, "the other device hears of it");
    let list: results::Conversations = alice.request(RequestBody::Conversations).await.unwrap();
    assert!(list.conversations[0].muted);
    let list: results::Conversations = bob.request(RequestBody::Conversations).await.unwrap();
    assert!(!list.conversations[0].muted, "muting is for oneself");

    let dave = connect(&server.url(), &register(&server.url(), "erin").await).await;
    let refused = dave
        .request_value(RequestBody::Mute(requests::Mute {
            conversation_id: team,
            muted: true,
        }))
        .await
        .unwrap_err();
    assert!(matches!(refused, RequestError::Api(e) if e.code == ErrorCode::Forbidden));
    server.stop().await;
}

on_each_backend!(
    mentions_are_counted_for_the_mentioned_and_mute_is_kept,
    a_reply_quotes_its_original_from_the_same_conversation_only,
    edits_and_deletes_are_the_senders_own_and_every_member_hears_of_them,
    reactions_are_added_taken_back_and_refused_to_outsiders,
);
