//! Money in the TUI's state: the modal, cards, the wallet.
use super::*;
use crate::money::{Currency, Money};
use crate::protocol::payments::{Card, PaymentRequest, PaymentRequestId, RequestStatus};
use crate::tui::state::modal::Step;

pub(crate) fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::from_code("EUR").unwrap())
}

pub(crate) fn request(id: i64, status: RequestStatus) -> PaymentRequest {
    PaymentRequest {
        id: PaymentRequestId(id),
        conversation_id: ConversationId(1),
        requester: user(2, "bob"),
        payer: user(1, "alice"),
        amount: eur(450),
        memo: "coffee".into(),
        status,
        expires_at: None,
        created_at: TimestampMs(DAY_TWO),
        transfer_id: None,
    }
}

/// alice, with €100, and bob's open request for €4.50 in their conversation.
pub(crate) fn app_with_request() -> App {
    let mut app = connected_app(80, 24);
    app.update(Msg::Done(Done::Balance(vec![eur(10_000)])));
    let mut card_message = message(
        9,
        1,
        &user(2, "bob"),
        "asked alice for €4.50",
        DAY_TWO + 600_000,
    );
    card_message.card = Some(Box::new(Card::Request {
        request: request(7, RequestStatus::Open),
    }));
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message {
            message: card_message,
        },
    }));
    app
}

#[test]
fn paying_from_the_modal_sends_once_and_shows_a_receipt() {
    let mut app = app_with_request();
    assert!(app.update(key(KeyCode::F(2))).is_empty());
    type_text(&mut app, "12.5");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "lunch");
    app.update(key(KeyCode::Enter));
    assert_eq!(app.modal.as_ref().unwrap().step, Step::Review);
    assert_eq!(
        app.modal.as_ref().unwrap().balance_after(),
        Some(eur(8_750))
    );
    let effects = app.update(key(KeyCode::Enter));
    let [
        Effect::Pay {
            to,
            amount,
            memo,
            key: first_key,
            ..
        },
    ] = effects.as_slice()
    else {
        panic!("expected a payment, got {effects:?}");
    };
    assert_eq!(
        (to.as_str(), *amount, memo.as_str()),
        ("bob", eur(1_250), "lunch")
    );
    let first_key = first_key.clone();

    app.update(Msg::Done(Done::MoneyFailed {
        code: ErrorCode::Internal,
        message: "connection lost".into(),
    }));
    assert!(matches!(app.modal.as_ref().unwrap().step, Step::Failed(_)));
    let retry = app.update(key(KeyCode::Enter));
    assert!(
        matches!(retry.as_slice(), [Effect::Pay { key, .. }] if *key == first_key),
        "a retry reuses the key"
    );
}

#[test]
fn a_payment_the_wallet_cannot_cover_is_stopped_before_the_review() {
    let mut app = app_with_request();
    app.update(key(KeyCode::F(2)));
    type_text(&mut app, "5 USD");
    app.update(key(KeyCode::Enter));
    let modal = app.modal.as_ref().unwrap();
    assert_eq!(modal.step, Step::Amount, "not on to the memo");
    assert_eq!(
        modal.shortfall().as_deref(),
        Some("you hold no USD: you hold €100.00")
    );
    for _ in 0..4 {
        app.update(key(KeyCode::Backspace));
    }
    type_text(&mut app, "00");
    assert_eq!(
        app.modal.as_ref().unwrap().shortfall().as_deref(),
        Some("€500.00 is more than your €100.00")
    );
    app.update(key(KeyCode::Backspace));
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Enter));
    assert_eq!(app.modal.as_ref().unwrap().step, Step::Review);

    // Refused anyway (the balance moved meanwhile): no retry that cannot succeed.
    app.update(key(KeyCode::Enter));
    app.update(Msg::Done(Done::MoneyFailed {
        code: ErrorCode::InsufficientFunds,
        message: "your balance is €1.00; this needs €50.00".into(),
    }));
    assert!(app.update(key(KeyCode::Enter)).is_empty(), "no retry");
    app.update(key(KeyCode::Esc));
    assert_eq!(app.modal.as_ref().unwrap().step, Step::Memo);
}

#[test]
fn a_request_card_is_picked_with_tab_and_paid_or_declined() {
    let mut app = app_with_request();
    app.update(key(KeyCode::Tab));
    assert_eq!(
        app.picked,
        Some(crate::tui::timeline::Pick::Request(PaymentRequestId(7)))
    );
    app.update(key(KeyCode::Enter));
    let modal = app.modal.as_ref().unwrap();
    assert_eq!(
        (modal.step.clone(), modal.recipient()),
        (Step::Review, "bob")
    );
    assert_eq!(modal.amount(), Ok(eur(450)));
    let effects = app.update(key(KeyCode::Enter));
    assert!(matches!(
        effects.as_slice(),
        [Effect::PayRequest {
            request_id: PaymentRequestId(7),
            ..
        }]
    ));

    let paid = request(7, RequestStatus::Paid);
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::RequestUpdated {
            request: Box::new(paid),
        },
    }));
    assert!(app.timelines[&ConversationId(1)].open_picks().is_empty());

    let mut app = app_with_request();
    app.update(key(KeyCode::Tab));
    assert_eq!(
        app.update(key(KeyCode::Char('d'))),
        [Effect::DeclineRequest(PaymentRequestId(7))]
    );
    assert_eq!(app.picked, None);
}

#[test]
fn the_server_asking_for_a_pin_opens_the_pin_step() {
    let mut app = app_with_request();
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Enter));
    app.update(Msg::Done(Done::MoneyFailed {
        code: ErrorCode::PinRequired,
        message: "pin".into(),
    }));
    assert_eq!(app.modal.as_ref().unwrap().step, Step::Pin);
    type_text(&mut app, "2468");
    let effects = app.update(key(KeyCode::Enter));
    assert!(
        matches!(effects.as_slice(), [Effect::PayRequest { pin: Some(pin), .. }] if pin == "2468")
    );
}

pub(crate) fn statement() -> Vec<crate::protocol::payments::StatementLine> {
    use crate::protocol::payments::{StatementLine, TransferId, TransferKind};
    let line =
        |id: i64, at: i64, minor: i64, balance: i64, who: Option<&str>, memo: &str| StatementLine {
            transfer_id: TransferId(id),
            kind: if who.is_some() {
                TransferKind::Payment
            } else {
                TransferKind::Mint
            },
            at: TimestampMs(at),
            amount: eur(minor),
            balance_after: eur(balance),
            counterparty: who.map(|w| user(2, w)),
            memo: memo.into(),
        };
    vec![
        line(4, DAY_TWO + 3_600_000, -1_050, 8_050, Some("bob"), "lunch"),
        line(3, DAY_TWO, -450, 9_100, Some("bob"), "coffee"),
        line(2, DAY_ONE, -450, 9_550, Some("carol"), "bus"),
        line(1, DAY_ONE - 86_400_000, 10_000, 10_000, None, "funds added"),
    ]
}

#[test]
fn the_wallet_loads_filters_and_exports_what_is_shown() {
    let mut app = app_with_request();
    let effects = app.update(key(KeyCode::F(4)));
    assert_eq!(
        effects,
        [
            Effect::LoadStatement,
            Effect::LoadBalance,
            Effect::LoadFundings
        ]
    );
    app.update(Msg::Done(Done::Statement(statement())));
    type_text(&mut app, "bob");
    assert_eq!(app.wallet.as_ref().unwrap().visible().len(), 2);
    let effects = app.update(ctrl('e'));
    let [Effect::ExportStatement(lines)] = effects.as_slice() else {
        panic!("expected an export, got {effects:?}");
    };
    assert_eq!(lines.len(), 2);
    app.update(Msg::Done(Done::Exported(Ok("/tmp/statement.csv".into()))));
    assert_eq!(
        app.wallet.as_ref().unwrap().note.as_deref(),
        Some("saved /tmp/statement.csv")
    );
    app.update(key(KeyCode::Esc));
    assert!(app.wallet.is_none());
    assert!(
        app.composer.is_empty(),
        "typing in the wallet filters, it does not compose"
    );
}

/// alice with €100 in a direct conversation (id 1) with the merchant bot "coffee", and its
/// open invoice for €9.80.
pub(crate) fn app_with_invoice() -> App {
    use crate::protocol::payments::{Invoice, InvoiceId, InvoiceStatus, LineItem};
    let mut app = App::new(
        "demo",
        Keymap::default(),
        Rect::new(0, 0, 80, 24),
        Instant::now(),
        0,
        crate::tui::state::fresh::FreshIds::counting(),
    );
    app.update(Msg::Session(SessionEvent::Connected {
        user: user(1, "alice"),
    }));
    let mut coffee = user(3, "coffee");
    coffee.bot = true;
    coffee.merchant = Some("Quid Coffee".into());
    let mut shop = conversation(1, ConversationKind::Direct, "coffee", 0, 1);
    shop.members = vec![user(1, "alice"), coffee.clone()];
    app.update(Msg::Done(Done::Conversations(vec![shop])));
    app.update(Msg::Done(Done::Balance(vec![eur(10_000)])));
    let invoice = Invoice {
        id: InvoiceId(4),
        conversation_id: ConversationId(1),
        merchant: coffee.clone(),
        buyer: user(1, "alice"),
        items: vec![
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
        ],
        total: eur(980),
        payload: "order-1".into(),
        status: InvoiceStatus::Open,
        expires_at: None,
        created_at: TimestampMs(DAY_TWO),
        transfer_id: None,
        refunded: eur(0),
    };
    let mut card = message(1, 1, &coffee, "invoice for €9.80", DAY_TWO);
    card.card = Some(Box::new(Card::Invoice { invoice }));
    let page = results::History {
        messages: vec![card],
        has_more: false,
        others_read_up_to: None,
    };
    app.update(Msg::Done(Done::History {
        conversation_id: ConversationId(1),
        before: None,
        page,
    }));
    app
}

#[test]
fn an_invoice_is_paid_from_its_card_through_the_review() {
    use crate::protocol::payments::InvoiceId;
    let mut app = app_with_invoice();
    assert_eq!(
        app.selected_entry().unwrap().bot.as_deref(),
        Some("Quid Coffee")
    );
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Enter));
    let modal = app.modal.as_ref().unwrap();
    assert_eq!(
        (modal.step.clone(), modal.recipient()),
        (Step::Review, "Quid Coffee")
    );
    assert_eq!(modal.items.len(), 2);
    let effects = app.update(key(KeyCode::Enter));
    assert!(matches!(
        effects.as_slice(),
        [Effect::PayInvoice {
            invoice_id: InvoiceId(4),
            ..
        }]
    ));
}

#[test]
fn a_merchants_shop_is_called_the_same_in_the_header_and_the_sidebar() {
    let mut app = connected_app(80, 24);
    let mut shop = conversation(5, ConversationKind::Direct, "coffee", 0, 9);
    shop.members = vec![user(1, "alice"), {
        let mut bot = user(9, "coffee");
        bot.bot = true;
        bot.merchant = Some("Quid Coffee".into());
        bot
    }];
    app.update(Msg::Done(Done::Conversations(vec![shop])));
    let entry = app
        .conversations
        .iter()
        .find(|c| c.id == ConversationId(5))
        .unwrap();
    assert_eq!(entry.label(), "$coffee");
    assert_eq!(entry.sigil(), "$");
}

/// alice in #general with bob and carol, the group selected.
pub(crate) fn app_in_a_group_of_three() -> App {
    let mut app = connected_app(80, 24);
    app.update(Msg::Done(Done::Balance(vec![eur(10_000)])));
    let mut group = conversation(2, ConversationKind::Group, "general", 0, 2);
    group.members.push(user(3, "carol"));
    app.update(Msg::Done(Done::Conversations(vec![
        conversation(1, ConversationKind::Direct, "bob", 0, 3),
        group,
    ])));
    app.update(ctrl('n'));
    assert_eq!(app.selected_entry().unwrap().id, ConversationId(2));
    app
}

#[test]
fn split_shares_the_whole_bill_with_the_requester_after_a_review() {
    let mut app = app_in_a_group_of_three();
    type_text(&mut app, "/split 30 pizza");
    let effects = app.update(key(KeyCode::Enter));
    assert!(effects.is_empty(), "nobody is asked before the review");
    let modal = app.modal.as_ref().expect("the split's review");
    assert_eq!(modal.step, Step::Review);
    assert_eq!(
        modal.split_shares().unwrap(),
        [
            ("you", eur(1_000)),
            ("bob", eur(1_000)),
            ("carol", eur(1_000))
        ]
    );

    let effects = app.update(key(KeyCode::Enter));
    let [Effect::Split { amount, memo, .. }] = effects.as_slice() else {
        panic!("expected the split, got {effects:?}");
    };
    assert_eq!((*amount, memo.as_str()), (eur(3_000), "pizza"));
    let asked = |name: &str, id| PaymentRequest {
        id: PaymentRequestId(id),
        conversation_id: ConversationId(2),
        requester: user(1, "alice"),
        payer: user(id, name),
        amount: eur(1_000),
        ..request(id, RequestStatus::Open)
    };
    app.update(Msg::Done(Done::Requested(vec![
        asked("bob", 2),
        asked("carol", 3),
    ])));
    assert_eq!(
        app.modal.as_ref().unwrap().step,
        Step::Receipt("Asked bob and carol for €10.00 each.".into())
    );

    // Typing on goes to the composer: the receipt closes on the first key not its own.
    type_text(&mut app, "thanks");
    assert!(app.modal.is_none(), "the receipt closed");
    assert_eq!(app.composer.lines(), ["thanks"], "no key was lost");
    app.update(ctrl('u'));
    type_text(&mut app, "/split 0.01");
    app.update(key(KeyCode::Enter));
    assert!(app.modal.is_none());
    assert!(
        matches!(&app.notice, Some(Notice { kind: NoticeKind::Error, text: e, .. }) if e.contains("too little to split among 3")),
        "{:?}",
        app.notice
    );
}

#[test]
fn a_cards_hint_names_the_keys_as_bound() {
    let mut app = app_with_request();
    let hints = |app: &App| -> Vec<String> {
        let timeline = app.selected_timeline().unwrap();
        app.pane(timeline)
            .newest_rows(50)
            .into_iter()
            .filter_map(|row| match row {
                crate::tui::layout::pane::Row::Text { text, .. } if text.contains("open") => {
                    Some(text)
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(hints(&app), ["▌ open · Tab to pay or decline"]);
    app.keymap
        .rebind("select_request", &["ctrl-t".into()])
        .unwrap();
    app.keymap.rebind("decline_card", &["x".into()]).unwrap();
    assert_eq!(hints(&app), ["▌ open · Ctrl+T to pay or decline"]);
    app.update(ctrl('t'));
    assert_eq!(
        hints(&app),
        ["▌ open · Enter pays · x declines · Esc leaves it"]
    );
}
