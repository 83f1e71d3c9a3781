//! Search end to end (issue 12): a real server on each backend, what members find, what
//! they may not, and every refusal with its code.

use crate::common::*;
use quid::protocol::requests;
use quid::protocol::{ClientMsgId, ConversationId, ErrorCode, RequestBody, results};
use quid::session::connection::{Connection, RequestError};

async fn send(connection: &Connection, conversation_id: ConversationId, text: &str) {
    let _: results::Sent = connection
        .request(RequestBody::Send(requests::Send {
            conversation_id,
            client_id: ClientMsgId::random(),
            text: text.into(),
            reply_to: None,
            file: None,
        }))
        .await
        .unwrap();
}

fn search_for(query: &str) -> requests::Search {
    requests::Search {
        query: query.into(),
        conversation_id: None,
        from: None,
        limit: 20,
    }
}

async fn search(connection: &Connection, request: requests::Search) -> results::Search {
    connection
        .request(RequestBody::Search(request))
        .await
        .unwrap()
}

/// The texts found, best first.
async fn found(connection: &Connection, query: &str) -> Vec<String> {
    texts(&search(connection, search_for(query)).await)
}

fn texts(result: &results::Search) -> Vec<String> {
    result.hits.iter().map(|h| h.message.text.clone()).collect()
}

async fn refused(connection: &Connection, request: requests::Search) -> (ErrorCode, String) {
    match connection
        .request_value(RequestBody::Search(request))
        .await
        .unwrap_err()
    {
        RequestError::Api(error) => (error.code, error.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn group(connection: &Connection, name: &str, members: &[&str]) -> ConversationId {
    let created: results::OneConversation = connection
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: name.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
        }))
        .await
        .unwrap();
    created.conversation.id
}

async fn words_phrases_prefixes_and_exclusions_are_found_and_highlighted(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    register(&server.url(), "bob").await;
    let direct = open_direct(&alice, "bob").await;
    for text in [
        "Lunch next week?",
        "week next, maybe",
        "The payment for lunch",
        "pizza lunch again",
        "nothing to see",
    ] {
        send(&alice, direct, text).await;
    }

    let mut lunch = found(&alice, "LUNCH").await;
    lunch.sort();
    assert_eq!(
        lunch,
        [
            "Lunch next week?",
            "The payment for lunch",
            "pizza lunch again"
        ]
    );
    assert_eq!(found(&alice, "\"next week\"").await, ["Lunch next week?"]);
    assert_eq!(found(&alice, "pay* lunch").await, ["The payment for lunch"]);
    let mut without_pizza = found(&alice, "lunch -pizza").await;
    without_pizza.sort();
    assert_eq!(without_pizza, ["Lunch next week?", "The payment for lunch"]);
    assert_eq!(
        found(&alice, "week -\"next week\"").await,
        ["week next, maybe"]
    );
    // Operators of the databases' own syntaxes are words here.
    assert!(found(&alice, "lunch NEAR AND OR NOT").await.is_empty());

    let result = search(&alice, search_for("\"next week\" lunch")).await;
    let hit = &result.hits[0];
    let marked: Vec<&str> = hit
        .highlights
        .iter()
        .map(|[start, end]| &hit.message.text[*start..*end])
        .collect();
    assert_eq!(marked, ["Lunch", "next week"]);
    server.stop().await;
}

async fn the_best_match_comes_first_and_the_limit_holds(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    register(&server.url(), "bob").await;
    let direct = open_direct(&alice, "bob").await;
    send(&alice, direct, "invoice invoice invoice").await;
    for n in 0..5 {
        send(
            &alice,
            direct,
            &format!("a long message {n} that mentions an invoice once among many other words"),
        )
        .await;
    }
    let result = search(&alice, search_for("invoice")).await;
    assert_eq!(result.hits.len(), 6);
    assert_eq!(result.hits[0].message.text, "invoice invoice invoice");
    let mut limited = search_for("invoice");
    limited.limit = 2;
    assert_eq!(search(&alice, limited).await.hits.len(), 2);
    server.stop().await;
}

async fn members_find_only_what_they_may_read(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let carol = connect(&server.url(), &register(&server.url(), "carol").await).await;
    let with_bob = open_direct(&alice, "bob").await;
    let team = group(&alice, "team", &["bob", "carol"]).await;
    send(&alice, with_bob, "secret plan for bob").await;
    send(&bob, team, "team plan from bob").await;
    send(&alice, team, "team plan from alice").await;

    assert_eq!(found(&carol, "secret").await, Vec::<String>::new());
    let mut carols = found(&carol, "plan").await;
    carols.sort();
    assert_eq!(carols, ["team plan from alice", "team plan from bob"]);

    let mut in_team = search_for("plan");
    in_team.conversation_id = Some(team);
    in_team.from = Some("bob".into());
    assert_eq!(
        texts(&search(&alice, in_team).await),
        ["team plan from bob"]
    );
    let mut in_direct = search_for("plan");
    in_direct.conversation_id = Some(with_bob);
    assert_eq!(
        texts(&search(&alice, in_direct).await),
        ["secret plan for bob"]
    );

    let _: results::Empty = carol
        .request(RequestBody::Leave(requests::Leave {
            conversation_id: team,
        }))
        .await
        .unwrap();
    send(&alice, team, "team plan after carol left").await;
    assert!(found(&carol, "plan").await.is_empty());
    let mut in_left = search_for("plan");
    in_left.conversation_id = Some(team);
    assert_eq!(refused(&carol, in_left).await.0, ErrorCode::Forbidden);
    server.stop().await;
}

async fn bad_queries_are_refused_with_a_code_and_the_place(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let direct = open_direct(&alice, "bob").await;
    send(&alice, direct, "hello").await;

    for (query, column) in [
        ("", 1),
        ("\"unclosed phrase", 1),
        ("lunch *", 7),
        ("lu*nch", 4),
        ("-only", 1),
    ] {
        let (code, message) = refused(&alice, search_for(query)).await;
        assert_eq!(code, ErrorCode::BadQuery, "{query:?}: {message}");
        assert!(
            message.contains(&format!("column {column}")),
            "{query:?}: {message}"
        );
    }
    let (code, message) = refused(&alice, search_for(&"x".repeat(300))).await;
    assert_eq!(code, ErrorCode::BadQuery);
    assert!(message.contains("limit is 256"), "{message}");

    let mut no_limit = search_for("hello");
    no_limit.limit = 0;
    assert_eq!(
        refused(&alice, no_limit).await.0,
        ErrorCode::InvalidArgument
    );
    let mut nobody = search_for("hello");
    nobody.from = Some("nobody".into());
    assert_eq!(refused(&alice, nobody).await.0, ErrorCode::NotFound);
    register(&server.url(), "carol").await;
    let carol = connect(&server.url(), &register(&server.url(), "dave").await).await;
    let mut elsewhere = search_for("hello");
    elsewhere.conversation_id = Some(direct);
    assert_eq!(refused(&carol, elsewhere).await.0, ErrorCode::Forbidden);
    drop(bob);
    server.stop().await;
}

on_each_backend!(
    words_phrases_prefixes_and_exclusions_are_found_and_highlighted,
    the_best_match_comes_first_and_the_limit_holds,
    members_find_only_what_they_may_read,
    bad_queries_are_refused_with_a_code_and_the_place,
);
