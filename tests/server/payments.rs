//! Payments end to end over real websockets: every refusal has its code and moves nothing,
//! retries with the same key move money once, requests live their whole life.

use crate::common::*;
use quid::money::Money;
use quid::protocol::payments::{IdempotencyKey, PaymentRequestId, RequestStatus};
use quid::protocol::requests;
use quid::protocol::{ErrorCode, Event, RequestBody, results};
use quid::server::ServerConfig;
use quid::session::SessionEvent;
use quid::session::connection::{Connection, RequestError};
use std::time::Duration;

fn pay(to: &str, amount: Money, key: &IdempotencyKey) -> RequestBody {
    RequestBody::Pay(requests::Pay {
        to: to.into(),
        amount,
        memo: "test".into(),
        conversation_id: None,
        idempotency_key: key.clone(),
        pin: None,
    })
}

fn ask(from: &str, amount: Money) -> RequestBody {
    RequestBody::RequestMoney(requests::RequestMoney {
        from: from.into(),
        amount,
        memo: "please".into(),
        conversation_id: None,
        expires_in_secs: None,
        idempotency_key: IdempotencyKey::random(),
    })
}

fn pay_request(id: PaymentRequestId) -> RequestBody {
    RequestBody::PayRequest(requests::PayRequest {
        request_id: id,
        idempotency_key: IdempotencyKey::random(),
        pin: None,
    })
}

async fn balance(connection: &Connection) -> Vec<Money> {
    let reply: results::Balance = connection.request(RequestBody::Balance).await.unwrap();
    reply.balances
}

async fn refused(connection: &Connection, body: RequestBody) -> ErrorCode {
    match connection.request_value(body.clone()).await {
        Err(RequestError::Api(error)) => error.code,
        other => panic!("{body:?} should have been refused, got {other:?}"),
    }
}

/// alice's group "trip" with bob and carol.
async fn trip(w: &World) -> results::OneConversation {
    w.alice
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: "trip".into(),
            members: vec!["bob".into(), "carol".into()],
        }))
        .await
        .unwrap()
}

struct World {
    db: TestDb,
    server: TestServer,
    alice: Connection,
    bob: Connection,
    carol: Connection,
}

/// alice holds €100, bob €20, carol nothing.
async fn world(db: TestDb, config: ServerConfig) -> World {
    let server = TestServer::start_with(&db, config).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let carol = connect(&server.url(), &register(&server.url(), "carol").await).await;
    mint(&db, "alice", eur(10_000));
    mint(&db, "bob", eur(2_000));
    World {
        db,
        server,
        alice,
        bob,
        carol,
    }
}

async fn a_payment_moves_money_once_however_often_it_is_retried(db: TestDb) {
    let w = world(db, ServerConfig::default()).await;
    let key = IdempotencyKey::random();
    let first: results::Paid = w.alice.request(pay("bob", eur(1_250), &key)).await.unwrap();
    let again: results::Paid = w.alice.request(pay("bob", eur(1_250), &key)).await.unwrap();
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(first.transfer, again.transfer);
    assert_eq!(again.balance_after, eur(8_750));
    assert_eq!(balance(&w.alice).await, [eur(8_750)]);
    assert_eq!(balance(&w.bob).await, [eur(3_250)]);
    assert_eq!(
        refused(&w.alice, pay("bob", eur(1), &key)).await,
        ErrorCode::IdempotencyConflict
    );

    // The key outlives the server: a retry after a restart still moves nothing.
    drop((w.alice, w.bob, w.carol));
    w.server.stop().await;
    let server = TestServer::start(&w.db).await;
    let (connection, _) = Connection::open(&server.url(), None).await.unwrap();
    connection.hello(None).await.unwrap();
    let login: results::Auth = connection
        .request(RequestBody::Login(requests::Login {
            username: "alice".into(),
            password: "correct horse battery".into(),
        }))
        .await
        .unwrap();
    let alice = connect(&server.url(), &login.token).await;
    let after_restart: results::Paid = alice.request(pay("bob", eur(1_250), &key)).await.unwrap();
    assert!(after_restart.duplicate);
    assert_eq!(balance(&alice).await, [eur(8_750)]);
    server.stop().await;
    assert_ledger_ok(&w.db);
}

async fn every_refusal_has_its_code_and_moves_nothing(db: TestDb) {
    let config = ServerConfig {
        limits: quid::ledger::limits::Limits {
            per_transfer: vec![eur(5_000)],
            per_day: vec![eur(6_000)],
        },
        ..ServerConfig::default()
    };
    let w = world(db, config).await;
    let key = IdempotencyKey::random;
    assert_eq!(
        refused(&w.bob, pay("alice", eur(2_001), &key())).await,
        ErrorCode::InsufficientFunds
    );
    assert_eq!(
        refused(&w.carol, pay("alice", eur(1), &key())).await,
        ErrorCode::InsufficientFunds
    );
    assert_eq!(
        refused(&w.alice, pay("alice", eur(1), &key())).await,
        ErrorCode::SelfPayment
    );
    assert_eq!(
        refused(&w.alice, pay("nobody", eur(1), &key())).await,
        ErrorCode::NotFound
    );
    assert_eq!(
        refused(&w.alice, pay("bob", eur(5_001), &key())).await,
        ErrorCode::LimitExceeded
    );
    let _: results::Paid = w
        .alice
        .request(pay("bob", eur(5_000), &key()))
        .await
        .unwrap();
    let over_day = w
        .alice
        .request_value(pay("bob", eur(1_001), &key()))
        .await
        .unwrap_err();
    assert!(
        matches!(&over_day, RequestError::Api(e) if e.code == ErrorCode::LimitExceeded && e.message.contains("daily limit of €60.00")),
        "{over_day}"
    );

    // A request to bob, paid by someone else, or after it closed.
    let asked: results::RequestMade = w.alice.request(ask("bob", eur(300))).await.unwrap();
    let id = asked.request.id;
    assert_eq!(
        refused(&w.carol, pay_request(id)).await,
        ErrorCode::Forbidden,
        "carol is not in that conversation"
    );
    assert_eq!(
        refused(&w.alice, pay_request(id)).await,
        ErrorCode::Forbidden,
        "the requester cannot pay it"
    );
    assert_eq!(
        refused(
            &w.alice,
            RequestBody::DeclineRequest(requests::DeclineRequest { request_id: id })
        )
        .await,
        ErrorCode::Forbidden
    );
    assert_eq!(
        refused(
            &w.bob,
            RequestBody::CancelRequest(requests::CancelRequest { request_id: id })
        )
        .await,
        ErrorCode::Forbidden
    );
    let _: results::RequestMade = w
        .bob
        .request(RequestBody::DeclineRequest(requests::DeclineRequest {
            request_id: id,
        }))
        .await
        .unwrap();
    assert_eq!(
        refused(&w.bob, pay_request(id)).await,
        ErrorCode::RequestDeclined
    );

    let asked: results::RequestMade = w.alice.request(ask("bob", eur(300))).await.unwrap();
    let _: results::RequestMade = w
        .alice
        .request(RequestBody::CancelRequest(requests::CancelRequest {
            request_id: asked.request.id,
        }))
        .await
        .unwrap();
    assert_eq!(
        refused(&w.bob, pay_request(asked.request.id)).await,
        ErrorCode::RequestCancelled
    );

    let asked: results::RequestMade = w.alice.request(ask("bob", eur(300))).await.unwrap();
    let _: results::Paid = w.bob.request(pay_request(asked.request.id)).await.unwrap();
    assert_eq!(
        refused(&w.bob, pay_request(asked.request.id)).await,
        ErrorCode::RequestAlreadyPaid
    );
    assert_eq!(
        refused(&w.alice, ask("alice", eur(1))).await,
        ErrorCode::SelfPayment
    );

    // A PIN, once set, is needed and must be right.
    let _: results::Empty = w
        .bob
        .request(RequestBody::SetPin(requests::SetPin {
            pin: "4321".into(),
            current_pin: None,
            password: None,
        }))
        .await
        .unwrap();
    assert_eq!(
        refused(&w.bob, pay("alice", eur(1), &key())).await,
        ErrorCode::PinRequired
    );
    let wrong = RequestBody::Pay(requests::Pay {
        to: "alice".into(),
        amount: eur(1),
        memo: String::new(),
        conversation_id: None,
        idempotency_key: key(),
        pin: Some("0000".into()),
    });
    assert_eq!(refused(&w.bob, wrong).await, ErrorCode::WrongPin);

    assert_eq!(balance(&w.alice).await, [eur(10_000 - 5_000 + 300)]);
    assert_eq!(balance(&w.bob).await, [eur(2_000 + 5_000 - 300)]);
    assert_eq!(balance(&w.carol).await, []);
    w.server.stop().await;
    assert_ledger_ok(&w.db);
}

async fn a_request_lives_in_the_conversation_and_both_sides_see_it_paid(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    let bob_token = register(&server.url(), "bob").await;
    mint(&db, "bob", eur(1_000));
    let alice = connect(&server.url(), &alice_token).await;
    let bob = connect(&server.url(), &bob_token).await;
    let (_alice_session, mut alice_events) = session(&server.url(), &alice_token, &db.path("a"));
    caught_up(&mut alice_events).await;

    let asked: results::RequestMade = alice.request(ask("bob", eur(450))).await.unwrap();
    let _: results::Paid = bob.request(pay_request(asked.request.id)).await.unwrap();
    let update = next_matching(&mut alice_events, |e| match e {
        SessionEvent::Event {
            event: Event::RequestUpdated { request },
            ..
        } => Some(request),
        _ => None,
    })
    .await;
    assert_eq!(update.status, RequestStatus::Paid);
    assert!(update.transfer_id.is_some());

    // History shows the card in its current state.
    let history: results::History = bob
        .request(RequestBody::History(requests::History {
            conversation_id: asked.request.conversation_id,
            before: None,
            limit: 10,
        }))
        .await
        .unwrap();
    let card = history
        .messages
        .iter()
        .find_map(|m| m.card.clone())
        .expect("a card in history");
    assert!(
        matches!(*card, quid::protocol::payments::Card::Request { request } if request.status == RequestStatus::Paid)
    );
    assert_eq!(balance(&alice).await, [eur(450)]);
    server.stop().await;
    assert_ledger_ok(&db);
}

async fn a_split_asks_each_member_for_parts_that_sum_exactly(db: TestDb) {
    let w = world(db, ServerConfig::default()).await;
    let group = trip(&w).await;
    // Who is asked for how much when alice splits €10.01.
    let (alice, conversation_id) = (&w.alice, group.conversation.id);
    let split = |includes_me| async move {
        let split: results::Requests = alice
            .request(RequestBody::Split(requests::Split {
                conversation_id,
                amount: eur(1_001),
                memo: "pizza".into(),
                idempotency_key: IdempotencyKey::random(),
                includes_me,
            }))
            .await
            .unwrap();
        split
            .requests
            .iter()
            .map(|r| (r.payer.username.clone(), r.amount.amount_minor))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        split(false).await,
        [("bob".to_owned(), 501), ("carol".to_owned(), 500)]
    );
    // The whole bill, alice's share included: she takes the first part, the rest are asked.
    assert_eq!(
        split(true).await,
        [("bob".to_owned(), 334), ("carol".to_owned(), 333)]
    );
    w.server.stop().await;
}

async fn an_unpaid_request_expires_on_time_and_cannot_be_paid(db: TestDb) {
    let config = ServerConfig {
        expiry_sweep: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&db, config).await;
    let alice_token = register(&server.url(), "alice").await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    mint(&db, "bob", eur(1_000));
    let alice = connect(&server.url(), &alice_token).await;
    let (_session, mut events) = session(&server.url(), &alice_token, &db.path("a"));
    caught_up(&mut events).await;
    let body = RequestBody::RequestMoney(requests::RequestMoney {
        from: "bob".into(),
        amount: eur(100),
        memo: String::new(),
        conversation_id: None,
        expires_in_secs: Some(1),
        idempotency_key: IdempotencyKey::random(),
    });
    let asked: results::RequestMade = alice.request(body).await.unwrap();
    let expired = next_matching(&mut events, |e| match e {
        SessionEvent::Event {
            event: Event::RequestUpdated { request },
            ..
        } => Some(request),
        _ => None,
    })
    .await;
    assert_eq!(
        (expired.id, expired.status),
        (asked.request.id, RequestStatus::Expired)
    );
    assert_eq!(
        refused(&bob, pay_request(asked.request.id)).await,
        ErrorCode::RequestExpired
    );
    assert_eq!(balance(&bob).await, [eur(1_000)]);
    server.stop().await;
    assert_ledger_ok(&db);
}

async fn five_wrong_pins_lock_payments_even_for_the_right_one(db: TestDb) {
    let w = world(db, ServerConfig::default()).await;
    let _: results::Empty = w
        .alice
        .request(RequestBody::SetPin(requests::SetPin {
            pin: "2468".into(),
            current_pin: None,
            password: None,
        }))
        .await
        .unwrap();
    let with_pin = |pin: &str| {
        RequestBody::Pay(requests::Pay {
            to: "bob".into(),
            amount: eur(100),
            memo: String::new(),
            conversation_id: None,
            idempotency_key: IdempotencyKey::random(),
            pin: Some(pin.into()),
        })
    };
    // A right PIN resets the count: four wrong, one right, four wrong is still not locked.
    for _ in 0..4 {
        assert_eq!(
            refused(&w.alice, with_pin("0000")).await,
            ErrorCode::WrongPin
        );
    }
    let _: results::Paid = w.alice.request(with_pin("2468")).await.unwrap();
    for _ in 0..4 {
        assert_eq!(
            refused(&w.alice, with_pin("0000")).await,
            ErrorCode::WrongPin
        );
    }
    assert_eq!(
        refused(&w.alice, with_pin("0000")).await,
        ErrorCode::PinLocked
    );
    assert_eq!(
        refused(&w.alice, with_pin("2468")).await,
        ErrorCode::PinLocked
    );
    assert_eq!(balance(&w.alice).await, [eur(10_000 - 100)]);
    w.server.stop().await;
}

async fn zero_and_negative_amounts_are_invalid_arguments_not_internal_errors(db: TestDb) {
    let w = world(db, ServerConfig::default()).await;
    let group = trip(&w).await;
    for minor in [0, -500] {
        let key = IdempotencyKey::random();
        assert_eq!(
            refused(&w.alice, pay("bob", eur(minor), &key)).await,
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            refused(&w.alice, ask("bob", eur(minor))).await,
            ErrorCode::InvalidArgument
        );
        let split = RequestBody::Split(requests::Split {
            conversation_id: group.conversation.id,
            amount: eur(minor),
            memo: String::new(),
            idempotency_key: IdempotencyKey::random(),
            includes_me: true,
        });
        assert_eq!(refused(&w.alice, split).await, ErrorCode::InvalidArgument);
        let refund = RequestBody::Refund(requests::Refund {
            invoice_id: quid::protocol::payments::InvoiceId(1),
            amount: Some(eur(minor)),
            idempotency_key: IdempotencyKey::random(),
        });
        assert_eq!(refused(&w.alice, refund).await, ErrorCode::InvalidArgument);
    }
    assert_eq!(balance(&w.alice).await, vec![eur(10_000)]);
    assert_ledger_ok(&w.db);
    w.server.stop().await;
}

async fn a_key_belongs_to_one_kind_of_request(db: TestDb) {
    let w = world(db, ServerConfig::default()).await;
    let key = IdempotencyKey::random();
    let _: results::Paid = w.alice.request(pay("bob", eur(100), &key)).await.unwrap();
    let reused = RequestBody::RequestMoney(requests::RequestMoney {
        from: "bob".into(),
        amount: eur(100),
        memo: "test".into(),
        conversation_id: None,
        expires_in_secs: None,
        idempotency_key: key.clone(),
    });
    assert_eq!(
        refused(&w.alice, reused).await,
        ErrorCode::IdempotencyConflict
    );
    // The same key stays a retry of the payment, and another user may use it freely.
    let again: results::Paid = w.alice.request(pay("bob", eur(100), &key)).await.unwrap();
    assert!(again.duplicate);
    let _: results::RequestMade = w
        .bob
        .request(RequestBody::RequestMoney(requests::RequestMoney {
            from: "alice".into(),
            amount: eur(100),
            memo: String::new(),
            conversation_id: None,
            expires_in_secs: None,
            idempotency_key: key,
        }))
        .await
        .unwrap();
    assert_eq!(balance(&w.alice).await, vec![eur(9_900)]);
    w.server.stop().await;
}

async fn a_read_never_shows_open_what_a_payment_would_find_expired(db: TestDb) {
    let config = ServerConfig {
        // The sweeper stays out of it: reads alone must tell.
        expiry_sweep: Duration::from_secs(3600),
        ..ServerConfig::default()
    };
    let w = world(db, config).await;
    let asked: results::RequestMade = w
        .alice
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
    assert_eq!(asked.request.status, RequestStatus::Open);
    let id = asked.request.id;
    // Wall-clock time is what is under test: wait for the expiry to pass.
    let expires_at = asked.request.expires_at.unwrap().0;
    while quid::protocol::TimestampMs::now().0 <= expires_at {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for reader in [&w.alice, &w.bob] {
        let listed: results::Requests = reader.request(RequestBody::Requests).await.unwrap();
        let request = listed.requests.iter().find(|r| r.id == id).unwrap();
        assert_eq!(request.status, RequestStatus::Expired);
    }
    assert_eq!(
        refused(&w.bob, pay_request(id)).await,
        ErrorCode::RequestExpired
    );
    w.server.stop().await;
}

on_each_backend!(
    a_payment_moves_money_once_however_often_it_is_retried,
    every_refusal_has_its_code_and_moves_nothing,
    a_request_lives_in_the_conversation_and_both_sides_see_it_paid,
    a_split_asks_each_member_for_parts_that_sum_exactly,
    an_unpaid_request_expires_on_time_and_cannot_be_paid,
    five_wrong_pins_lock_payments_even_for_the_right_one,
    zero_and_negative_amounts_are_invalid_arguments_not_internal_errors,
    a_key_belongs_to_one_kind_of_request,
    a_read_never_shows_open_what_a_payment_would_find_expired,
);
