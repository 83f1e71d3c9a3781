//! Top-ups and withdrawals through the sandbox partner, end to end on both backends: the
//! server, the sandbox (its API, checkout page and signed webhooks over real HTTP), and the
//! ledger's audit after each.

use crate::common::partner::{Partner, SECRET, checkout, following, post_webhook, settled, topup};
use crate::common::{TestDb, TestServer, assert_ledger_ok, connect, eur, mint, register};
use quid::money::{Currency, Money};
use quid::partner::sandbox::{Event as PartnerEvent, EventData, Object};
use quid::partner::{signature, unix_now};
use quid::protocol::funding::{Funding, FundingKind, FundingStatus};
use quid::protocol::payments::{IdempotencyKey, TransferKind};
use quid::protocol::{ErrorCode, RequestBody, requests, results};
use quid::sandbox::book::{CARD_DECLINED, CARD_SUCCEEDS};
use quid::sandbox::webhooks::Switches;
use quid::server::ServerConfig;
use quid::session::connection::{Connection, RequestError};
use std::time::Duration;

const IBAN: &str = "DE89 3704 0044 0532 0130 00";

/// How often the server re-asks the partner: rarely when webhooks are sent, so that the test
/// shows webhooks doing the work; often when they are not, so that asking does it.
fn recheck(webhooks: bool) -> Duration {
    if webhooks {
        Duration::from_secs(3600)
    } else {
        Duration::from_millis(200)
    }
}

/// A server with the sandbox as its partner, the sandbox's webhooks pointed at it.
async fn with_partner(db: &TestDb, switches: Switches, webhooks: bool) -> (TestServer, String) {
    let partner = Partner::bind(switches).await;
    let server = TestServer::start_with(
        db,
        ServerConfig {
            partners: partner.partners(),
            partner_recheck: recheck(webhooks),
            ..ServerConfig::default()
        },
    )
    .await;
    let base = partner.serve(webhooks.then_some(server.addr));
    (server, base)
}

async fn balance(connection: &Connection) -> Vec<Money> {
    let reply: results::Balance = connection.request(RequestBody::Balance).await.unwrap();
    reply.balances
}

async fn withdraw(
    connection: &Connection,
    amount: Money,
    account: &str,
) -> Result<Funding, RequestError> {
    connection
        .request(RequestBody::Withdraw(requests::Withdraw {
            amount,
            bank_account: account.into(),
            idempotency_key: IdempotencyKey::random(),
            provider: None,
            pin: None,
        }))
        .await
}

fn refused(result: Result<Funding, RequestError>) -> quid::protocol::ApiError {
    match result {
        Err(RequestError::Api(error)) => error,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn a_top_up_credits_the_wallet_once_the_partner_says_it_was_paid(db: TestDb) {
    let (server, _) = with_partner(&db, Switches::default(), true).await;
    let token = register(&server.url(), "alice").await;
    let (alice, mut events) = following(&server.url(), &token).await;

    let pending = topup(&alice, eur(2000)).await;
    assert_eq!(
        (pending.kind, pending.status),
        (FundingKind::Topup, FundingStatus::Pending)
    );
    let url = pending.checkout_url.clone().expect("a checkout page");
    assert!(
        balance(&alice).await.is_empty(),
        "nothing moves before the payment"
    );

    let (status, page) = checkout(&url, CARD_SUCCEEDS, "pay").await;
    assert_eq!(status, 200);
    assert!(page.contains("Paid €20.00"), "{page}");
    let done = settled(&mut events, pending.id).await;
    assert_eq!(done.status, FundingStatus::Succeeded);
    assert!(done.transfer_id.is_some());
    assert_eq!(balance(&alice).await, vec![eur(2000)]);

    // Paying the page again is refused by the partner and credits nothing more.
    let (again, page) = checkout(&url, CARD_SUCCEEDS, "pay").await;
    assert_eq!(again, 409);
    assert!(page.contains("Paid"), "{page}");
    let statement: results::Statement = alice
        .request(RequestBody::Statement(requests::Statement {
            before: None,
            limit: 10,
        }))
        .await
        .unwrap();
    let kinds: Vec<_> = statement.lines.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, vec![TransferKind::Topup]);
    let listed: results::Fundings = alice.request(RequestBody::Fundings).await.unwrap();
    assert_eq!(listed.fundings, vec![done]);
    server.stop().await;
    assert_ledger_ok(&db);
}

async fn declined_and_cancelled_checkouts_credit_nothing_and_say_why(db: TestDb) {
    let (server, _) = with_partner(&db, Switches::default(), true).await;
    let token = register(&server.url(), "alice").await;
    let (alice, mut events) = following(&server.url(), &token).await;

    let declined = topup(&alice, eur(500)).await;
    let url = declined.checkout_url.clone().unwrap();
    let (status, page) = checkout(&url, "4242 4242", "pay").await;
    assert_eq!(status, 422, "not a test card: the form again, with why");
    assert!(
        page.contains("not one of the sandbox&#39;s test cards"),
        "{page}"
    );
    checkout(&url, CARD_DECLINED, "pay").await;
    let ended = settled(&mut events, declined.id).await;
    assert_eq!(ended.status, FundingStatus::Failed);
    assert_eq!(ended.reason, "your card was declined");

    let cancelled = topup(&alice, eur(700)).await;
    checkout(cancelled.checkout_url.as_deref().unwrap(), "", "decline").await;
    let ended = settled(&mut events, cancelled.id).await;
    assert_eq!(ended.reason, "cancelled at checkout");
    assert!(balance(&alice).await.is_empty());
    server.stop().await;
    assert_ledger_ok(&db);
}

async fn a_withdrawal_holds_the_money_and_a_failed_one_gives_it_back(db: TestDb) {
    let (server, _) = with_partner(&db, Switches::default(), true).await;
    let token = register(&server.url(), "alice").await;
    mint(&db, "alice", eur(5000));
    let (alice, mut events) = following(&server.url(), &token).await;

    let paid = withdraw(&alice, eur(2000), IBAN).await.unwrap();
    assert_eq!(paid.bank_account.as_deref(), Some("DE•••3000"));
    assert_eq!(balance(&alice).await, vec![eur(3000)], "held at once");
    assert_eq!(
        settled(&mut events, paid.id).await.status,
        FundingStatus::Succeeded
    );
    assert_eq!(balance(&alice).await, vec![eur(3000)]);

    // The sandbox's bank refuses payouts whose amount ends in 13 cents.
    let bounced = withdraw(&alice, eur(1013), IBAN).await.unwrap();
    assert_eq!(balance(&alice).await, vec![eur(1987)]);
    let ended = settled(&mut events, bounced.id).await;
    assert_eq!(ended.status, FundingStatus::Failed);
    assert!(ended.reason.contains("account closed"), "{}", ended.reason);
    assert_eq!(balance(&alice).await, vec![eur(3000)], "given back");

    let over = refused(withdraw(&alice, eur(3001), IBAN).await);
    assert_eq!(over.code, ErrorCode::InsufficientFunds);
    let bad_iban = refused(withdraw(&alice, eur(100), "DE88 3704 0044 0532 0130 00").await);
    assert_eq!(bad_iban.code, ErrorCode::InvalidArgument);
    assert!(
        bad_iban.message.contains("check digits"),
        "{}",
        bad_iban.message
    );
    let yen = Money::new(100, Currency::from_code("JPY").unwrap());
    let foreign = refused(withdraw(&alice, yen, IBAN).await);
    assert_eq!(foreign.code, ErrorCode::PartnerRefused);
    assert!(
        foreign.message.contains("does not take JPY"),
        "{}",
        foreign.message
    );
    assert_eq!(
        balance(&alice).await,
        vec![eur(3000)],
        "refusals moved nothing"
    );
    server.stop().await;
    assert_ledger_ok(&db);
}

/// A sandbox event about `object`, as its webhooks carry it.
fn event(id: &str, kind: &str, object: &Object) -> Vec<u8> {
    serde_json::to_vec(&PartnerEvent {
        id: id.into(),
        kind: kind.into(),
        created: unix_now(),
        data: EventData {
            object: object.clone(),
        },
    })
    .unwrap()
}

async fn forged_stale_and_mismatched_webhooks_move_nothing(db: TestDb) {
    // The sandbox sends no webhooks here: the test sends them, good and bad, itself.
    let (server, _) = with_partner(&db, Switches::default(), false).await;
    let token = register(&server.url(), "alice").await;
    let alice = connect(&server.url(), &token).await;
    let pending = topup(&alice, eur(1500)).await;
    let reference = pending
        .checkout_url
        .as_deref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let paid = Object {
        id: reference,
        object: "topup".into(),
        amount: 1500,
        currency: "EUR".into(),
        status: "succeeded".into(),
        failure_reason: None,
        checkout_url: None,
        reference: String::new(),
    };
    let hook = format!("http://{}/webhooks/sandbox", server.addr);
    let sign = |body: &[u8], at: i64| Some(signature::sign(SECRET.as_bytes(), body, at));
    let body = event("evt_1", "topup.succeeded", &paid);

    let forged = signature::sign(b"not the secret", &body, unix_now());
    let cases: Vec<(&str, Option<String>, Vec<u8>, u16)> = vec![
        ("no signature", None, body.clone(), 401),
        ("forged", Some(forged), body.clone(), 401),
        ("stale", sign(&body, unix_now() - 301), body.clone(), 401),
        ("unreadable", sign(b"{]", unix_now()), b"{]".to_vec(), 400),
        (
            "unknown reference",
            {
                let other = Object {
                    id: "tu_nope".into(),
                    ..paid.clone()
                };
                let b = event("evt_2", "topup.succeeded", &other);
                sign(&b, unix_now())
            },
            event(
                "evt_2",
                "topup.succeeded",
                &Object {
                    id: "tu_nope".into(),
                    ..paid.clone()
                },
            ),
            404,
        ),
        (
            "another amount",
            None,
            event(
                "evt_3",
                "topup.succeeded",
                &Object {
                    amount: 150_000,
                    ..paid.clone()
                },
            ),
            422,
        ),
        (
            "another currency",
            None,
            event(
                "evt_4",
                "topup.succeeded",
                &Object {
                    currency: "USD".into(),
                    ..paid.clone()
                },
            ),
            422,
        ),
        (
            "another kind",
            None,
            event(
                "evt_5",
                "payout.paid",
                &Object {
                    object: "payout".into(),
                    status: "paid".into(),
                    ..paid.clone()
                },
            ),
            422,
        ),
    ];
    for (case, signature, body, expected) in cases {
        let signature = signature.or_else(|| sign(&body, unix_now()));
        let signature = if case == "no signature" {
            None
        } else {
            signature
        };
        let (status, reply) = post_webhook(hook.clone(), signature, body).await;
        assert_eq!(status, expected, "{case}: {reply}");
    }
    let unknown_partner = format!("http://{}/webhooks/stripe", server.addr);
    assert_eq!(
        post_webhook(unknown_partner, sign(&body, unix_now()), body.clone())
            .await
            .0,
        404
    );
    assert!(
        balance(&alice).await.is_empty(),
        "refused webhooks moved nothing"
    );

    // The genuine event, twice, then another event saying the same, then a late "created":
    // one credit.
    let created = event(
        "evt_0",
        "topup.created",
        &Object {
            status: "pending".into(),
            ..paid.clone()
        },
    );
    for body in [
        body.clone(),
        body.clone(),
        event("evt_6", "topup.succeeded", &paid),
        created,
    ] {
        let (status, reply) = post_webhook(hook.clone(), sign(&body, unix_now()), body).await;
        assert_eq!(status, 200, "{reply}");
    }
    assert_eq!(balance(&alice).await, vec![eur(1500)]);
    // A "failed" after it succeeded changes nothing either.
    let failed = event(
        "evt_7",
        "topup.failed",
        &Object {
            status: "failed".into(),
            ..paid.clone()
        },
    );
    assert_eq!(
        post_webhook(hook.clone(), sign(&failed, unix_now()), failed)
            .await
            .0,
        200
    );
    let listed: results::Fundings = alice.request(RequestBody::Fundings).await.unwrap();
    assert_eq!(listed.fundings[0].status, FundingStatus::Succeeded);
    assert_eq!(balance(&alice).await, vec![eur(1500)]);
    // Refusals are counted for the operator: three bad signatures among them.
    let metrics = format!("http://{}/metrics", server.addr);
    let figures = tokio::task::spawn_blocking(move || {
        ureq::get(&metrics)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        figures.contains("quid_webhooks_total{status=\"401\"} 3"),
        "{figures}"
    );
    assert!(
        figures.contains("quid_webhooks_total{status=\"422\"} 3"),
        "{figures}"
    );
    server.stop().await;
    assert_ledger_ok(&db);
}

/// alice tops up `minor` cents and pays at the page; the server learns it was paid.
async fn paid_top_up_is_learnt(server: TestServer, db: &TestDb, minor: i64) {
    let token = register(&server.url(), "alice").await;
    let (alice, mut events) = following(&server.url(), &token).await;
    let pending = topup(&alice, eur(minor)).await;
    checkout(
        pending.checkout_url.as_deref().unwrap(),
        CARD_SUCCEEDS,
        "pay",
    )
    .await;
    assert_eq!(
        settled(&mut events, pending.id).await.status,
        FundingStatus::Succeeded
    );
    assert_eq!(balance(&alice).await, vec![eur(minor)]);
    server.stop().await;
    assert_ledger_ok(db);
}

async fn a_lost_webhook_is_found_by_asking_the_partner(db: TestDb) {
    // No webhooks at all: the server learns the outcome only by asking (every 200 ms here).
    let (server, _) = with_partner(&db, Switches::default(), false).await;
    paid_top_up_is_learnt(server, &db, 800).await;
}

async fn a_checkout_nobody_pays_expires_and_credits_nothing(db: TestDb) {
    let partner = Partner::bind_expiring(Duration::from_millis(300)).await;
    let server = TestServer::start_with(
        &db,
        ServerConfig {
            partners: partner.partners(),
            partner_recheck: recheck(true),
            ..ServerConfig::default()
        },
    )
    .await;
    partner.serve(Some(server.addr));
    let token = register(&server.url(), "alice").await;
    let (alice, mut events) = following(&server.url(), &token).await;
    let abandoned = topup(&alice, eur(400)).await;
    let ended = settled(&mut events, abandoned.id).await;
    assert_eq!(
        (ended.status, ended.reason.as_str()),
        (FundingStatus::Failed, "the checkout expired unpaid")
    );
    let (status, page) = checkout(
        abandoned.checkout_url.as_deref().unwrap(),
        CARD_SUCCEEDS,
        "pay",
    )
    .await;
    assert_eq!(status, 409, "the page takes no card any more: {page}");
    assert!(balance(&alice).await.is_empty());
    server.stop().await;
    assert_ledger_ok(&db);
}

async fn without_a_partner_money_in_and_out_is_unavailable(db: TestDb) {
    let server = TestServer::start(&db).await;
    let token = register(&server.url(), "alice").await;
    let alice = connect(&server.url(), &token).await;
    let refusal = alice
        .request::<Funding>(RequestBody::Topup(requests::Topup {
            amount: eur(100),
            idempotency_key: IdempotencyKey::random(),
            provider: None,
        }))
        .await;
    let refusal = refused(refusal);
    assert_eq!(refusal.code, ErrorCode::PartnerUnavailable);
    assert!(
        refusal.message.contains("no payment partner"),
        "{}",
        refusal.message
    );
    server.stop().await;
}

/// A server whose partner is the Stripe adapter, talking to the sandbox's Stripe shapes.
async fn with_stripe(db: &TestDb, webhooks: bool) -> TestServer {
    let partner = Partner::bind(Switches::default()).await;
    let server = TestServer::start_with(
        db,
        ServerConfig {
            partners: partner.stripe(),
            partner_recheck: recheck(webhooks),
            ..ServerConfig::default()
        },
    )
    .await;
    partner.serve_stripe(webhooks.then_some(server.addr));
    server
}

async fn the_stripe_adapter_tops_up_through_checkout_sessions_and_their_events(db: TestDb) {
    let server = with_stripe(&db, true).await;
    let token = register(&server.url(), "alice").await;
    let (alice, mut events) = following(&server.url(), &token).await;

    let paid = topup(&alice, eur(2000)).await;
    assert_eq!(paid.provider, "stripe");
    let url = paid.checkout_url.clone().unwrap();
    assert!(
        url.contains("/checkout/cs_"),
        "a Checkout Session's page: {url}"
    );
    checkout(&url, CARD_SUCCEEDS, "pay").await;
    assert_eq!(
        settled(&mut events, paid.id).await.status,
        FundingStatus::Succeeded
    );

    // A delayed payment: completed but unpaid first, then async_payment_succeeded.
    let delayed = topup(&alice, eur(700)).await;
    checkout(
        delayed.checkout_url.as_deref().unwrap(),
        quid::sandbox::book::CARD_DELAYED,
        "pay",
    )
    .await;
    assert_eq!(
        settled(&mut events, delayed.id).await.status,
        FundingStatus::Succeeded
    );

    let cancelled = topup(&alice, eur(300)).await;
    checkout(cancelled.checkout_url.as_deref().unwrap(), "", "decline").await;
    let ended = settled(&mut events, cancelled.id).await;
    assert_eq!(
        (ended.status, ended.reason.as_str()),
        (FundingStatus::Failed, "the checkout expired unpaid")
    );
    assert_eq!(balance(&alice).await, vec![eur(2700)]);

    // Stripe makes no payouts for quid: refused before anything is held or stored.
    let refusal = refused(withdraw(&alice, eur(500), IBAN).await);
    assert_eq!(refusal.code, ErrorCode::PartnerRefused);
    assert!(
        refusal.message.contains("Stripe Connect"),
        "{}",
        refusal.message
    );
    assert_eq!(balance(&alice).await, vec![eur(2700)]);
    let listed: results::Fundings = alice.request(RequestBody::Fundings).await.unwrap();
    assert_eq!(listed.fundings.len(), 3, "the three top-ups, no withdrawal");
    server.stop().await;
    assert_ledger_ok(&db);
}

async fn without_stripe_webhooks_the_session_is_retrieved(db: TestDb) {
    let server = with_stripe(&db, false).await;
    paid_top_up_is_learnt(server, &db, 900).await;
}

on_each_backend!(
    a_top_up_credits_the_wallet_once_the_partner_says_it_was_paid,
    declined_and_cancelled_checkouts_credit_nothing_and_say_why,
    a_withdrawal_holds_the_money_and_a_failed_one_gives_it_back,
    forged_stale_and_mismatched_webhooks_move_nothing,
    a_lost_webhook_is_found_by_asking_the_partner,
    without_a_partner_money_in_and_out_is_unavailable,
    a_checkout_nobody_pays_expires_and_credits_nothing,
    the_stripe_adapter_tops_up_through_checkout_sessions_and_their_events,
    without_stripe_webhooks_the_session_is_retrieved,
);
