//! Merchant bots and invoices end to end: paid once and heard once (also by a bot that was
//! away), every refusal with its code, refunds in part and in full with retries, and the
//! coffee shop driven by a customer.

use crate::common::*;
use quid::bot::{Bot, BotEvent};
use quid::money::{Currency, Money};
use quid::protocol::payments::{IdempotencyKey, InvoiceId, InvoiceStatus, LineItem};
use quid::protocol::requests;
use quid::protocol::{ErrorCode, Event, RequestBody, results};
use quid::session::SessionEvent;
use quid::session::connection::{Connection, RequestError};
use std::path::Path;
use std::time::Duration;

fn items() -> Vec<LineItem> {
    vec![
        LineItem {
            name: "latte".into(),
            quantity: 2,
            unit_price_minor: 350,
        },
        LineItem {
            name: "croissant".into(),
            quantity: 1,
            unit_price_minor: 280,
        },
    ]
}

fn euro() -> Currency {
    Currency::from_code("EUR").unwrap()
}

async fn refused(connection: &Connection, body: RequestBody) -> ErrorCode {
    match connection.request_value(body.clone()).await {
        Err(RequestError::Api(error)) => error.code,
        other => panic!("{body:?} should have been refused, got {other:?}"),
    }
}

fn pay(invoice_id: InvoiceId, key: &IdempotencyKey) -> RequestBody {
    RequestBody::PayInvoice(requests::PayInvoice {
        invoice_id,
        idempotency_key: key.clone(),
        pin: None,
    })
}

/// The bot's next event that `pick` selects, within the test's patience.
async fn bot_event<T>(bot: &mut Bot, mut pick: impl FnMut(BotEvent) -> Option<T>) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(found) = pick(bot.next().await.expect("bot running")) {
                return found;
            }
        }
    })
    .await
    .expect("the bot event arrived in time")
}

/// Waits until the bot has replayed its backlog, counting the `invoice_paid` events on the way.
async fn paid_events_until_caught_up(bot: &mut Bot) -> Vec<InvoiceId> {
    let mut paid = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        loop {
            match bot.next().await.expect("bot running") {
                BotEvent::InvoicePaid(invoice) => paid.push(invoice.id),
                BotEvent::CaughtUp => return,
                _ => {}
            }
        }
    })
    .await
    .expect("caught up in time");
    paid
}

struct Shop {
    db: TestDb,
    server: TestServer,
    shop_token: String,
    shop: Connection,
    alice_token: String,
    alice: Connection,
    conversation: quid::protocol::ConversationId,
}

async fn shop(db: TestDb) -> Shop {
    let config = quid::server::ServerConfig {
        expiry_sweep: Duration::from_millis(100),
        ..Default::default()
    };
    let server = TestServer::start_with(&db, config).await;
    let alice_token = register(&server.url(), "alice").await;
    let alice = connect(&server.url(), &alice_token).await;
    mint(&db, "alice", eur(5_000));
    let shop_token = create_bot(&db, "shop", Some("The Shop"));
    let shop = connect(&server.url(), &shop_token).await;
    let conversation = open_direct(&alice, "shop").await;
    Shop {
        db,
        server,
        shop_token,
        shop,
        alice_token,
        alice,
        conversation,
    }
}

fn invoice_body(
    conversation: quid::protocol::ConversationId,
    total_minor: i64,
    expires: Option<u64>,
) -> RequestBody {
    RequestBody::SendInvoice(requests::SendInvoice {
        conversation_id: conversation,
        items: items(),
        currency: euro(),
        total_minor,
        payload: "order-1".into(),
        expires_in_secs: expires,
        idempotency_key: IdempotencyKey::random(),
    })
}

fn state_dir(root: &Path) -> std::path::PathBuf {
    root.join("bot-state")
}

async fn a_paid_invoice_reaches_its_bot_exactly_once_even_when_it_was_away(db: TestDb) {
    let s = shop(db).await;
    let bot_dir = tempfile::tempdir().unwrap();
    let mut bot = Bot::connect(
        s.server.url(),
        s.shop_token.clone(),
        state_dir(bot_dir.path()),
    )
    .unwrap();
    assert!(paid_events_until_caught_up(&mut bot).await.is_empty());
    let conversation = s.conversation;
    let invoice = bot
        .send_invoice(conversation, items(), euro(), "order-1", None)
        .await
        .unwrap();
    assert_eq!(invoice.total, eur(980));

    let _: results::Paid = s
        .alice
        .request(pay(invoice.id, &IdempotencyKey::random()))
        .await
        .unwrap();
    let paid = bot_event(&mut bot, |e| match e {
        BotEvent::InvoicePaid(invoice) => Some(invoice),
        _ => None,
    })
    .await;
    assert_eq!(
        (paid.id, paid.payload.as_str(), paid.status),
        (invoice.id, "order-1", InvoiceStatus::Paid)
    );

    // Away: the bot is gone while a second invoice is paid; back, it hears of it once.
    let second = bot
        .send_invoice(conversation, items(), euro(), "order-2", None)
        .await
        .unwrap();
    drop(bot);
    let _: results::Paid = s
        .alice
        .request(pay(second.id, &IdempotencyKey::random()))
        .await
        .unwrap();
    let mut bot = Bot::connect(
        s.server.url(),
        s.shop_token.clone(),
        state_dir(bot_dir.path()),
    )
    .unwrap();
    assert_eq!(paid_events_until_caught_up(&mut bot).await, [second.id]);
    drop(bot);
    let mut bot = Bot::connect(
        s.server.url(),
        s.shop_token.clone(),
        state_dir(bot_dir.path()),
    )
    .unwrap();
    assert!(
        paid_events_until_caught_up(&mut bot).await.is_empty(),
        "nothing twice"
    );
    s.server.stop().await;
    assert_ledger_ok(&s.db);
}

async fn every_invoice_refusal_has_its_code_and_moves_nothing(db: TestDb) {
    let s = shop(db).await;
    let carol = connect(&s.server.url(), &register(&s.server.url(), "carol").await).await;
    mint(&s.db, "carol", eur(5_000));

    assert_eq!(
        refused(&s.shop, invoice_body(s.conversation, 999, None)).await,
        ErrorCode::InvoiceTotalMismatch
    );
    let not_a_bot = open_direct(&carol, "alice").await;
    assert_eq!(
        refused(&carol, invoice_body(not_a_bot, 980, None)).await,
        ErrorCode::Forbidden
    );

    let made: results::InvoiceMade = s
        .shop
        .request(invoice_body(s.conversation, 980, None))
        .await
        .unwrap();
    let id = made.invoice.id;
    assert_eq!(
        refused(&carol, pay(id, &IdempotencyKey::random())).await,
        ErrorCode::Forbidden,
        "someone else's"
    );
    let _: results::Paid = s
        .alice
        .request(pay(id, &IdempotencyKey::random()))
        .await
        .unwrap();
    assert_eq!(
        refused(&s.alice, pay(id, &IdempotencyKey::random())).await,
        ErrorCode::InvoiceAlreadyPaid
    );

    let (_alice, mut alice_events) = session(&s.server.url(), &s.alice_token, &s.db.path("alice"));
    caught_up(&mut alice_events).await;
    let short: results::InvoiceMade = s
        .shop
        .request(invoice_body(s.conversation, 980, Some(1)))
        .await
        .unwrap();
    // The server's sweeper expires it and says so.
    let expired = next_matching(&mut alice_events, |e| match e {
        SessionEvent::Event {
            event: Event::InvoiceUpdated { invoice },
            ..
        } => Some(invoice),
        _ => None,
    })
    .await;
    assert_eq!(
        (expired.id, expired.status),
        (short.invoice.id, InvoiceStatus::Expired)
    );
    assert_eq!(
        refused(&s.alice, pay(short.invoice.id, &IdempotencyKey::random())).await,
        ErrorCode::InvoiceExpired
    );

    let balance: results::Balance = s.alice.request(RequestBody::Balance).await.unwrap();
    assert_eq!(balance.balances, [eur(5_000 - 980)]);
    s.server.stop().await;
    assert_ledger_ok(&s.db);
}

async fn refunds_in_part_and_in_full_never_exceed_the_payment_and_retries_refund_once(db: TestDb) {
    let s = shop(db).await;
    let made: results::InvoiceMade = s
        .shop
        .request(invoice_body(s.conversation, 980, None))
        .await
        .unwrap();
    let id = made.invoice.id;
    let _: results::Paid = s
        .alice
        .request(pay(id, &IdempotencyKey::random()))
        .await
        .unwrap();

    let refund = |amount: Option<Money>, key: &IdempotencyKey| {
        RequestBody::Refund(requests::Refund {
            invoice_id: id,
            amount,
            idempotency_key: key.clone(),
        })
    };
    let key = IdempotencyKey::random();
    let first: results::Refunded = s.shop.request(refund(Some(eur(280)), &key)).await.unwrap();
    let again: results::Refunded = s.shop.request(refund(Some(eur(280)), &key)).await.unwrap();
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(again.invoice.refunded, eur(280));
    assert_eq!(
        refused(&s.shop, refund(Some(eur(701)), &IdempotencyKey::random())).await,
        ErrorCode::RefundExceedsPayment
    );
    assert_eq!(
        refused(&s.shop, refund(Some(eur(0)), &IdempotencyKey::random())).await,
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        refused(&s.alice, refund(None, &IdempotencyKey::random())).await,
        ErrorCode::Forbidden
    );
    let rest: results::Refunded = s
        .shop
        .request(refund(None, &IdempotencyKey::random()))
        .await
        .unwrap();
    assert_eq!(rest.transfer.amount, eur(700));
    assert_eq!(rest.invoice.refunded, eur(980));
    assert_eq!(
        refused(&s.shop, refund(Some(eur(1)), &IdempotencyKey::random())).await,
        ErrorCode::RefundExceedsPayment
    );
    // Once all is given back, another refund says so (not "€0.00 is more than €0.00").
    let again = s
        .shop
        .request_value(refund(None, &IdempotencyKey::random()))
        .await
        .unwrap_err();
    assert!(
        matches!(&again, RequestError::Api(e) if e.code == ErrorCode::RefundExceedsPayment
            && e.message.contains("fully refunded already (€9.80)")),
        "{again:?}"
    );

    let balance: results::Balance = s.alice.request(RequestBody::Balance).await.unwrap();
    assert_eq!(balance.balances, [eur(5_000)]);
    s.server.stop().await;
    assert_ledger_ok(&s.db);
}

async fn the_coffee_shop_sells_confirms_and_refunds(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    mint(&db, "alice", eur(2_000));
    let coffee_token = create_bot(&db, "coffee", Some("Quid Coffee"));
    let bot = Bot::connect(server.url(), coffee_token, db.path("coffee")).unwrap();
    let shop = tokio::spawn(quid::bot::coffee_shop::run(bot));

    let alice = connect(&server.url(), &alice_token).await;
    let conversation = open_direct(&alice, "coffee").await;
    let (alice_session, mut events) = session(&server.url(), &alice_token, &db.path("alice"));
    caught_up(&mut events).await;
    let say = |text: &str| {
        alice_session.send_message(
            quid::session::target::Target::Conversation(conversation),
            text.into(),
        )
    };
    say("2 latte 1 croissant").await.unwrap();

    let invoice = next_matching(&mut events, |e| match e {
        SessionEvent::Event {
            event: Event::Message { message },
            ..
        } => match message.card.as_deref() {
            Some(quid::protocol::payments::Card::Invoice { invoice }) => Some(invoice.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(invoice.total, eur(980));
    assert!(invoice.merchant.bot && invoice.merchant.merchant.as_deref() == Some("Quid Coffee"));
    let _: results::Paid = alice
        .request(pay(invoice.id, &IdempotencyKey::random()))
        .await
        .unwrap();
    let thanks = next_matching(&mut events, |e| match e {
        SessionEvent::Event {
            event: Event::Message { message },
            ..
        } if message.text.starts_with("Thank you") => Some(message.text),
        _ => None,
    })
    .await;
    assert!(
        thanks.contains(&invoice.payload) && thanks.contains("2 × latte"),
        "{thanks}"
    );

    say(&format!("refund {}", invoice.payload)).await.unwrap();
    let refunded = next_matching(&mut events, |e| match e {
        SessionEvent::Event {
            event: Event::Message { message },
            ..
        } => match message.card.as_deref() {
            Some(quid::protocol::payments::Card::Refund { transfer, .. }) => Some(transfer.amount),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(refunded, eur(980));
    shop.abort();
    server.stop().await;
    assert_ledger_ok(&db);
}

on_each_backend!(
    a_paid_invoice_reaches_its_bot_exactly_once_even_when_it_was_away,
    every_invoice_refusal_has_its_code_and_moves_nothing,
    refunds_in_part_and_in_full_never_exceed_the_payment_and_retries_refund_once,
    the_coffee_shop_sells_confirms_and_refunds,
);
