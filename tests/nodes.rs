//! Several `quid serve` nodes on one PostgreSQL database: people connected to different nodes
//! chat, type and pay each other live; each sees its own stream in seq order and each
//! conversation's log in order, with nothing doubled or skipped. (Skipped, loudly, when PostgreSQL is not installed.)

mod common;

use common::*;
use quid::protocol::payments::IdempotencyKey;
use quid::protocol::requests;
use quid::protocol::{ClientMsgId, ConversationId, Event, Position, RequestBody, results};
use quid::session::connection::{Connection, Pushed};
use tokio::sync::mpsc;

/// A logged-in connection subscribed to its stream from the start.
async fn subscribed(url: &url::Url, token: &str) -> (Connection, mpsc::Receiver<Pushed>) {
    let (connection, mut pushed) = Connection::open(url, Some(token)).await.unwrap();
    connection
        .hello(Some(quid::session::connection::Resume::everything()))
        .await
        .unwrap();
    next_pushed(&mut pushed, |p| {
        matches!(p, Pushed::CaughtUp(_)).then_some(())
    })
    .await;
    (connection, pushed)
}

/// Waits for the first pushed frame `pick` maps to `Some`; every event on the way must come
/// right after the previous one (`last`).
async fn next_pushed<T>(
    pushed: &mut mpsc::Receiver<Pushed>,
    mut pick: impl FnMut(&Pushed) -> Option<T>,
) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let frame = pushed.recv().await.expect("connection still open");
            if let Some(found) = pick(&frame) {
                return found;
            }
        }
    })
    .await
    .expect("expected frame did not arrive in time")
}

/// The text of a message event, with its position in the conversation's log.
fn message(frame: &Pushed) -> Option<(Position, String)> {
    match frame {
        Pushed::ConversationEvent(_, pos, Event::Message { message }) => {
            Some((*pos, message.text.clone()))
        }
        _ => None,
    }
}

async fn send(connection: &Connection, conversation_id: ConversationId, text: &str) {
    let _: results::Sent = connection
        .request(RequestBody::Send(requests::Send {
            conversation_id,
            client_id: ClientMsgId::random(),
            text: text.into(),
            reply_to: None,
        }))
        .await
        .unwrap();
}

#[tokio::test]
async fn two_nodes_serve_one_conversation_live() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let node_a = TestServer::start(&db).await;
    let node_b = TestServer::start(&db).await;
    let alice_token = register(&node_a.url(), "alice").await;
    let bob_token = register(&node_b.url(), "bob").await;
    mint(&db, "bob", eur(5_000));
    let (alice, mut on_a) = subscribed(&node_a.url(), &alice_token).await;
    let (bob, mut on_b) = subscribed(&node_b.url(), &bob_token).await;
    let conversation = open_direct(&alice, "bob").await;

    // Messages both ways, each reaching the other node live, in the log's order.
    let mut seen_by_bob = Vec::new();
    for n in 0..5 {
        send(&alice, conversation, &format!("from A {n}")).await;
        seen_by_bob.push(next_pushed(&mut on_b, message).await);
    }
    let texts: Vec<&str> = seen_by_bob.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        texts,
        ["from A 0", "from A 1", "from A 2", "from A 3", "from A 4"]
    );
    let positions: Vec<i64> = seen_by_bob.iter().map(|(p, _)| p.0).collect();
    assert!(
        positions.windows(2).all(|w| w[1] == w[0] + 1),
        "{positions:?}"
    );

    send(&bob, conversation, "from B").await;
    let (_, text) = next_pushed(&mut on_a, |f| message(f).filter(|(_, t)| t == "from B")).await;
    assert_eq!(text, "from B");

    // Typing is relayed too, though never stored.
    let _: results::Empty = alice
        .request(RequestBody::Typing(requests::Typing {
            conversation_id: conversation,
        }))
        .await
        .unwrap();
    let typist = next_pushed(&mut on_b, |f| match f {
        Pushed::Typing(id, user) if *id == conversation => Some(user.username.clone()),
        _ => None,
    })
    .await;
    assert_eq!(typist, "alice");

    // A payment made on B is on alice's screen on A.
    let _: results::Paid = bob
        .request(RequestBody::Pay(requests::Pay {
            to: "alice".into(),
            amount: eur(1_250),
            memo: "lunch".into(),
            conversation_id: None,
            idempotency_key: IdempotencyKey::random(),
            pin: None,
        }))
        .await
        .unwrap();
    let card = next_pushed(&mut on_a, |f| match f {
        Pushed::ConversationEvent(_, _, Event::Message { message }) => message.card.clone(),
        _ => None,
    })
    .await;
    assert!(format!("{card:?}").contains("1250"), "{card:?}");

    drop((alice, bob));
    node_a.stop().await;
    node_b.stop().await;
    assert_ledger_ok(&db);
}

#[tokio::test]
async fn one_user_on_two_nodes_gets_each_event_on_both_once() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let node_a = TestServer::start(&db).await;
    let node_b = TestServer::start(&db).await;
    let alice_token = register(&node_a.url(), "alice").await;
    let (_alice_a, mut on_a) = subscribed(&node_a.url(), &alice_token).await;
    let (_alice_b, mut on_b) = subscribed(&node_b.url(), &alice_token).await;
    let bot_token = create_bot(&db, "helper", None);
    let bot = connect(&node_a.url(), &bot_token).await;
    let conversation = open_direct(&bot, "alice").await;
    send(&bot, conversation, "hello from a bot").await;
    send(&bot, conversation, "and again").await;
    for pushed in [&mut on_a, &mut on_b] {
        let mut events = Vec::new();
        while events.len() < 3 {
            match next_pushed(pushed, |f| match f {
                Pushed::Event(seq, event) => Some((seq.0, event.clone())),
                Pushed::ConversationEvent(_, pos, event) => Some((pos.0, event.clone())),
                _ => None,
            })
            .await
            {
                (seq, Event::Joined { .. }) => events.push((seq, "joined".to_owned())),
                (pos, Event::Message { message }) => events.push((pos, message.text)),
                other => panic!("unexpected {other:?}"),
            }
        }
        let texts: Vec<&str> = events.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["joined", "hello from a bot", "and again"]);
        let positions: Vec<i64> = events[1..].iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, [1, 2], "the log's first two, each once");
    }
    node_a.stop().await;
    node_b.stop().await;
}

/// Two `quid serve` processes behind a balancer; 8 clients (two per person) pay each other at
/// random, resending a third of the payments under the same key, and talk in a group; node A
/// is SIGKILLed a third of the way in, and its clients (and everyone's sessions) carry on
/// through node B. Nothing is created, lost or applied twice, and every message the server
/// acknowledged reaches every member's session exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_run_loses_nothing_and_its_clients_carry_on_on_the_other() {
    use common::payers::*;
    use common::process::ServerProcess;
    use common::proxy::Balancer;
    use quid::protocol::MessageId;

    use std::collections::HashSet;
    use std::sync::Arc;

    let Some(db) = TestDb::postgres() else {
        return;
    };
    let node_a = ServerProcess::start(&db, "127.0.0.1:0");
    let node_b = ServerProcess::start(&db, "127.0.0.1:0");
    let balancer = Balancer::start(vec![node_a.addr, node_b.addr]).await;
    let url = balancer.url();
    let tokens = register_all(&url, &db).await;
    let founder = connect(&url, &tokens[0]).await;
    let group: results::OneConversation = founder
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: "everyone".into(),
            members: PEOPLE[1..].iter().map(|p| p.to_string()).collect(),
        }))
        .await
        .unwrap();
    let group = group.conversation.id;
    drop(founder);

    // Each person's session, collecting the group's messages as they arrive.
    let mut received = Vec::new();
    let mut sessions = Vec::new();
    for (person, token) in PEOPLE.iter().zip(&tokens) {
        let (session, mut events) = session(&url, token, &db.path(person));
        caught_up(&mut events).await;
        received.push(collect_messages(events, group));
        sessions.push(session);
    }

    let outcomes: Outcomes = Arc::default();
    let chat = Chat {
        group: Some(group),
        ..Chat::default()
    };
    let tasks = run_clients(&url, &tokens, &outcomes, &chat).await;
    let a_third = PEOPLE.len() * CLIENTS_PER_PERSON * PAYMENTS_PER_CLIENT / 3;
    tokio::time::timeout(PATIENCE, async {
        while outcomes.lock().unwrap().len() < a_third {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("payments flow before the crash");
    node_a.kill();
    for task in tasks {
        task.await.unwrap();
    }

    assert_ledger_ok(&db);
    assert_each_key_applied_at_most_once(&db, &outcomes);
    let acknowledged = chat.acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > PEOPLE.len(), "the clients talked");
    for (person, seen) in PEOPLE.iter().zip(&mut received) {
        let all = tokio::time::timeout(
            PATIENCE,
            seen.wait_for(|got| acknowledged.iter().all(|id| got.contains(id))),
        )
        .await
        .unwrap_or_else(|_| panic!("{person} is missing acknowledged messages"))
        .unwrap()
        .clone();
        let distinct: HashSet<&MessageId> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "{person} got a message twice");
    }
    drop((sessions, node_b));
}

/// Both nodes sweep for due requests; the expiry is applied, and announced, once.
#[tokio::test]
async fn a_request_expires_once_however_many_nodes_sweep() {
    use quid::protocol::payments::RequestStatus;
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let config = || quid::server::ServerConfig {
        expiry_sweep: std::time::Duration::from_millis(20),
        ..Default::default()
    };
    let node_a = TestServer::start_with(&db, config()).await;
    let node_b = TestServer::start_with(&db, config()).await;
    let alice_token = register(&node_a.url(), "alice").await;
    register(&node_b.url(), "bob").await;
    let (alice, mut on_a) = subscribed(&node_a.url(), &alice_token).await;
    let asked: results::RequestMade = alice
        .request(RequestBody::RequestMoney(requests::RequestMoney {
            from: "bob".into(),
            amount: eur(100),
            memo: String::new(),
            conversation_id: None,
            expires_in_secs: Some(1),
            idempotency_key: IdempotencyKey::random(),
        }))
        .await
        .unwrap();
    let expired = |f: &Pushed| match f {
        Pushed::ConversationEvent(_, _, Event::RequestUpdated { request }) => Some(request.status),
        _ => None,
    };
    assert_eq!(
        next_pushed(&mut on_a, expired).await,
        RequestStatus::Expired
    );
    // Several sweeps of both nodes later, a message: no second expiry came before it.
    let conversation = asked.request.conversation_id;
    for n in 0..10 {
        let _: results::Balance = alice.request(RequestBody::Balance).await.unwrap();
        send(&alice, conversation, &format!("later {n}")).await;
    }
    let mut between = Vec::new();
    next_pushed(&mut on_a, |f| {
        between.push(expired(f));
        message(f).filter(|(_, t)| t == "later 9")
    })
    .await;
    assert!(between.iter().all(Option::is_none), "{between:?}");
    node_a.stop().await;
    node_b.stop().await;
}

/// Transactions run side by side on PostgreSQL: people opening the same direct conversation
/// at once on two nodes, and paying each other both ways at once, all succeed (the losers of
/// a race run again and find what the winner committed), with one conversation per pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_contacts_and_crossed_payments_all_succeed() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let nodes = [TestServer::start(&db).await, TestServer::start(&db).await];
    let people = ["ann", "ben", "cat"];
    let mut connections = Vec::new();
    for (n, person) in people.iter().enumerate() {
        let url = nodes[n % 2].url();
        let token = register(&url, person).await;
        mint(&db, person, eur(10_000));
        // Two connections each, one on each node.
        for node in &nodes {
            connections.push((*person, connect(&node.url(), &token).await));
        }
    }
    let mut racing = Vec::new();
    for (me, connection) in &connections {
        for other in people.iter().filter(|p| *p != me) {
            let connection = connection.clone();
            let other = other.to_string();
            racing.push(tokio::spawn(async move {
                let opened: results::OneConversation = connection
                    .request(RequestBody::OpenDirect(requests::OpenDirect {
                        username: other.clone(),
                    }))
                    .await
                    .expect("opening a conversation in a race");
                let _: results::Paid = connection
                    .request(RequestBody::Pay(requests::Pay {
                        to: other,
                        amount: eur(100),
                        memo: String::new(),
                        conversation_id: None,
                        idempotency_key: IdempotencyKey::random(),
                        pin: None,
                    }))
                    .await
                    .expect("a payment in a race");
                opened.conversation.id
            }));
        }
    }
    let mut opened = std::collections::HashSet::new();
    for race in racing {
        opened.insert(race.await.unwrap());
    }
    assert_eq!(opened.len(), 3, "one direct conversation per pair");
    drop(connections);
    for node in nodes {
        node.stop().await;
    }
    assert_ledger_ok(&db);
}
