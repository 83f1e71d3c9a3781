//! Top-ups and withdrawals in the TUI's state: /topup follows a top-up to its end, /withdraw
//! goes through the money modal, the wallet lists both.
use super::money::{app_with_request, eur};
use super::*;
use crate::protocol::funding::{Funding, FundingId, FundingKind, FundingStatus};
use crate::tui::state::modal::{ModalKind, Step};

const IBAN: &str = "DE89370400440532013000";

fn funding(id: i64, kind: FundingKind, status: FundingStatus, reason: &str) -> Funding {
    Funding {
        id: FundingId(id),
        kind,
        provider: "sandbox".into(),
        amount: eur(2_000),
        status,
        reason: reason.into(),
        checkout_url: (kind == FundingKind::Topup)
            .then(|| "http://127.0.0.1:4243/checkout/tu_1".into()),
        bank_account: (kind == FundingKind::Payout).then(|| "DE•••3000".into()),
        transfer_id: None,
        created_at: TimestampMs(DAY_TWO),
        updated_at: TimestampMs(DAY_TWO),
    }
}

fn updated(funding: Funding) -> Msg {
    Msg::Session(SessionEvent::Event {
        event: Event::FundingUpdated {
            funding: Box::new(funding),
        },
    })
}

fn run(app: &mut App, command: &str) -> Vec<Effect> {
    type_text(app, command);
    app.update(key(KeyCode::Enter))
}

#[test]
fn a_top_up_shows_where_to_pay_until_the_partner_says_how_it_ended() {
    let mut app = app_with_request();
    app.can_open_browser = true;
    let effects = run(&mut app, "/topup 20");
    let [Effect::Topup { amount, .. }] = effects.as_slice() else {
        panic!("expected a top-up, got {effects:?}");
    };
    assert_eq!(*amount, eur(2_000));
    let pending = funding(5, FundingKind::Topup, FundingStatus::Pending, "");
    let effects = app.update(Msg::Done(Done::TopupStarted(pending.clone())));
    assert_eq!(
        effects,
        [Effect::OpenBrowser(
            "http://127.0.0.1:4243/checkout/tu_1".into()
        )]
    );
    assert_eq!(app.following.as_ref(), Some(&pending));

    let effects = app.update(updated(funding(
        5,
        FundingKind::Topup,
        FundingStatus::Succeeded,
        "",
    )));
    assert!(effects.contains(&Effect::LoadBalance), "{effects:?}");
    assert_eq!(app.following, None);
    assert!(
        notice_text(&app).contains("top-up of €20.00 arrived"),
        "{:?}",
        app.notice
    );
    assert_eq!(app.fundings[0].status, FundingStatus::Succeeded);
}

#[test]
fn a_declined_top_up_says_why_and_the_address_is_copied_only_when_asked() {
    let mut app = app_with_request();
    run(&mut app, "/topup 20");
    let pending = funding(6, FundingKind::Topup, FundingStatus::Pending, "");
    let effects = app.update(Msg::Done(Done::TopupStarted(pending)));
    assert_eq!(effects, [], "no browser here, and nothing copied unasked");
    assert_eq!(
        run(&mut app, "/copy-link"),
        [Effect::Copy("http://127.0.0.1:4243/checkout/tu_1".into())],
    );
    app.update(updated(funding(
        6,
        FundingKind::Topup,
        FundingStatus::Failed,
        "your card was declined",
    )));
    let notice = app.notice.clone().unwrap();
    assert_eq!(notice.kind, NoticeKind::Error);
    assert!(
        notice.text.contains("not paid: your card was declined"),
        "{}",
        notice.text
    );
    let wrong = run(&mut app, "/topup twenty");
    assert!(wrong.is_empty());
    assert!(notice_text(&app).starts_with("/topup:"), "{:?}", app.notice);
}

#[test]
fn the_wallets_list_brings_no_news_and_asks_nothing() {
    let mut app = app_with_request();
    app.notice = None;
    let effects = app.update(Msg::Done(Done::Fundings(vec![
        funding(
            2,
            FundingKind::Payout,
            FundingStatus::Failed,
            "account closed",
        ),
        funding(1, FundingKind::Topup, FundingStatus::Succeeded, ""),
    ])));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(app.notice, None, "old outcomes are not news");
    assert_eq!(app.fundings.len(), 2);
    assert_eq!(app.fundings[0].id, FundingId(2));
}

#[test]
fn f5_starts_a_top_up_in_the_composer() {
    let mut app = app_with_request();
    app.update(key(KeyCode::F(5)));
    assert_eq!(app.composer.lines().join("\n"), "/topup ");
    type_text(&mut app, "15 EUR");
    let effects = app.update(key(KeyCode::Enter));
    assert!(matches!(effects.as_slice(), [Effect::Topup { amount, .. }] if *amount == eur(1_500)));
}

#[test]
fn a_withdrawal_is_reviewed_then_sent_with_the_pin_when_asked() {
    let mut app = app_with_request();
    assert!(run(&mut app, "/withdraw 20").is_empty());
    assert!(
        notice_text(&app).contains("needs a bank account"),
        "{:?}",
        app.notice
    );
    app.bank_account = Some(IBAN.into());
    run(&mut app, "/withdraw 20");
    let modal = app.modal.as_ref().expect("the review");
    assert_eq!(
        (modal.kind, &modal.step),
        (ModalKind::Withdraw, &Step::Review)
    );
    assert_eq!(modal.balance_after(), Some(eur(8_000)));
    let effects = app.update(key(KeyCode::Enter));
    let [
        Effect::Withdraw {
            amount,
            bank_account,
            key: first,
            pin: None,
        },
    ] = effects.as_slice()
    else {
        panic!("expected a withdrawal, got {effects:?}");
    };
    assert_eq!((*amount, bank_account.as_str()), (eur(2_000), IBAN));
    let first = first.clone();
    app.update(Msg::Done(Done::MoneyFailed {
        code: crate::protocol::ErrorCode::PinRequired,
        message: "this account needs its PIN".into(),
    }));
    type_text(&mut app, "1234");
    let effects = app.update(key(KeyCode::Enter));
    let [Effect::Withdraw { key, pin, .. }] = effects.as_slice() else {
        panic!("expected the withdrawal again, got {effects:?}");
    };
    assert_eq!(
        (key, pin.as_deref()),
        (&first, Some("1234")),
        "the same key: never twice"
    );
    let paid = funding(7, FundingKind::Payout, FundingStatus::Pending, "");
    app.update(Msg::Done(Done::Withdrawn(paid)));
    let Step::Receipt(receipt) = &app.modal.as_ref().unwrap().step else {
        panic!("expected a receipt");
    };
    assert!(receipt.contains("on its way to DE•••3000"), "{receipt}");

    app.update(updated(funding(
        7,
        FundingKind::Payout,
        FundingStatus::Failed,
        "account closed",
    )));
    assert!(
        notice_text(&app).contains("came back: account closed"),
        "{:?}",
        app.notice
    );
}

#[test]
fn a_bad_iban_is_refused_before_any_review() {
    let mut app = app_with_request();
    run(&mut app, "/withdraw 5 EUR DE88 3704 0044 0532 0130 00");
    assert!(app.modal.is_none());
    assert!(
        notice_text(&app).contains("check digits are wrong"),
        "{:?}",
        app.notice
    );
}

fn notice_text(app: &App) -> String {
    app.notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default()
}

#[test]
fn a_checkout_address_that_is_not_a_web_page_is_neither_opened_copied_nor_shown() {
    for address in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://x.example/\x1b]52;c;eA==\x07",
    ] {
        for browser in [true, false] {
            let mut app = app_with_request();
            app.can_open_browser = browser;
            run(&mut app, "/topup 20");
            let mut pending = funding(6, FundingKind::Topup, FundingStatus::Pending, "");
            pending.checkout_url = Some(address.into());
            let effects = app.update(Msg::Done(Done::TopupStarted(pending)));
            assert_eq!(effects, [], "{address:?} was acted on");
            assert_eq!(app.following, None);
            assert!(
                notice_text(&app).contains("cannot be used"),
                "{:?}",
                app.notice
            );
            let copied = run(&mut app, "/copy-link");
            assert!(
                !copied.iter().any(|e| matches!(e, Effect::Copy(_))),
                "{copied:?}"
            );
        }
    }
}
