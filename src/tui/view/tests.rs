//! Snapshot tests of the main screens on ratatui's TestBackend, at several sizes.

use super::draw;
use crate::protocol::{ConversationId, Event, MessageId, results};
use crate::session::SessionEvent;
use crate::tui::state::Done;
use crate::tui::state::tests::{DAY_TWO, connected_app, ctrl, key, message, type_text, user};
use crate::tui::state::{App, Msg};
use crate::tui::theme::Theme;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;

fn render(app: &App) -> Terminal<TestBackend> {
    let backend = TestBackend::new(app.screen.width, app.screen.height);
    let mut terminal = Terminal::new(backend).unwrap();
    terminal
        .draw(|frame| draw(frame, app, &Theme::default()))
        .unwrap();
    terminal
}

/// The screen as text, a line per row, for tests that look for words on it.
pub(crate) fn screen_text(app: &App) -> String {
    let terminal = render(app);
    let buffer = terminal.backend().buffer();
    let width = usize::from(buffer.area.width);
    let symbols: Vec<&str> = buffer.content().iter().map(|cell| cell.symbol()).collect();
    symbols
        .chunks(width)
        .map(|row| row.concat())
        .collect::<Vec<_>>()
        .join("\n")
}

fn busy_app(width: u16, height: u16) -> App {
    let mut app = connected_app(width, height);
    let bob = user(2, "bob");
    let long = "日本語のテキストを折り返す 👨\u{200d}👩\u{200d}👧 family emoji, combining e\u{301}e\u{301}, \
                and enough words to need more than one line in a narrow pane";
    let incoming = message(7, 1, &bob, long, DAY_TWO + 600_000);
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: incoming },
    }));
    app.update(Msg::Session(SessionEvent::Typing {
        conversation_id: ConversationId(1),
        user: bob,
    }));
    type_text(&mut app, "on my way");
    app.update(key(KeyCode::Enter));
    app
}

#[test]
fn main_screen_80x24() {
    insta::assert_snapshot!(render(&busy_app(80, 24)).backend());
}

#[test]
fn main_screen_200x50() {
    insta::assert_snapshot!(render(&busy_app(200, 50)).backend());
}

#[test]
fn main_screen_40x15_hides_the_sidebar() {
    insta::assert_snapshot!(render(&busy_app(40, 15)).backend());
}

#[test]
fn help_overlay_80x24() {
    let mut app = connected_app(80, 24);
    app.update(key(KeyCode::F(1)));
    insta::assert_snapshot!(render(&app).backend());
    // Taller than the screen: it scrolls to its end, and no further.
    for _ in 0..30 {
        app.update(key(KeyCode::Down));
    }
    insta::assert_snapshot!("help_overlay_80x24_scrolled", render(&app).backend());
    app.update(key(KeyCode::Esc));
    assert!(app.help.is_none());
}

#[test]
fn help_searched_for_invoice_80x24() {
    let mut app = connected_app(80, 24);
    app.update(key(KeyCode::F(1)));
    type_text(&mut app, "invoice");
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn help_at_40x12_scrolls_to_its_last_line() {
    let mut app = connected_app(40, 12);
    app.update(key(KeyCode::F(1)));
    for _ in 0..40 {
        app.update(key(KeyCode::PageDown));
    }
    let screen = format!("{:?}", render(&app).backend());
    assert!(screen.contains("this help, in an empty"), "{screen}");
    app.update(key(KeyCode::PageUp));
    app.update(key(KeyCode::Down));
    let nudged = format!("{:?}", render(&app).backend());
    assert_ne!(nudged, screen, "scrolling back up moves at once");
}

#[test]
fn reconnecting_status_80x24() {
    let mut app = connected_app(80, 24);
    app.update(Msg::Session(SessionEvent::Disconnected {
        reason: "connection refused".into(),
        retry_in: Duration::from_secs(7),
    }));
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn log_in_again_prompt_with_a_wrong_password_80x24() {
    let mut app = busy_app(80, 24);
    app.username = "alice".into();
    app.update(Msg::Session(SessionEvent::AuthRejected {
        reason: "invalid or revoked token; log in again".into(),
    }));
    type_text(&mut app, "secret");
    app.update(key(KeyCode::Enter));
    app.update(Msg::Done(Done::LogInFailed(
        "wrong username or password for \"alice\"".into(),
    )));
    type_text(&mut app, "typed");
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn group_with_unread_marker_and_inline_error_80x24() {
    let mut app = connected_app(80, 24);
    app.update(ctrl('n'));
    let bob = user(2, "bob");
    let page = crate::protocol::results::History {
        messages: vec![
            message(2, 2, &user(3, "carol"), "who's in for lunch?", DAY_TWO),
            message(4, 2, &bob, "me", DAY_TWO + 60_000),
        ],
        has_more: true,
        others_read_up_to: None,
    };
    app.update(Msg::Done(crate::tui::state::Done::History {
        conversation_id: ConversationId(2),
        before: None,
        page,
    }));
    type_text(&mut app, "/dm");
    app.update(key(KeyCode::Enter));
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn first_run_screen_80x24() {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let path = std::path::Path::new("/home/ada/.config/quid/config.toml");
    terminal
        .draw(|frame| super::first_run::draw(frame, path, &Theme::default()))
        .unwrap();
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn hostile_text_renders_as_inert_characters() {
    let mut app = connected_app(80, 24);
    let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}1m\u{202e}reversed\r\nline";
    let incoming = message(8, 1, &user(2, "bob"), hostile, DAY_TWO + 600_000);
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: incoming },
    }));
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        assert!(
            cell.symbol()
                .chars()
                .all(|c| !c.is_control() && !('\u{202a}'..='\u{202e}').contains(&c)),
            "a cell holds {:?}",
            cell.symbol()
        );
    }
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn scrolled_up_with_new_messages_below_80x24() {
    let mut app = connected_app(80, 24);
    let bob = user(2, "bob");
    let messages = (10..60)
        .map(|id| message(id, 1, &bob, &format!("line {id}"), DAY_TWO + id * 1000))
        .collect();
    app.update(Msg::Done(crate::tui::state::Done::History {
        conversation_id: ConversationId(1),
        before: None,
        page: crate::protocol::results::History {
            messages,
            has_more: false,
            others_read_up_to: None,
        },
    }));
    app.update(key(KeyCode::PageUp));
    let incoming = message(60, 1, &bob, "new while scrolled", DAY_TWO + 900_000);
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: incoming },
    }));
    insta::assert_snapshot!(render(&app).backend());
}

mod money {
    use super::*;
    use crate::tui::state::tests::money::app_with_request;

    #[test]
    fn request_card_picked_80x24() {
        let mut app = app_with_request();
        app.update(key(KeyCode::Tab));
        insta::assert_snapshot!(render(&app).backend());
    }

    #[test]
    fn pay_modal_amount_step_80x24() {
        let mut app = app_with_request();
        app.update(key(KeyCode::F(2)));
        type_text(&mut app, "12.505");
        insta::assert_snapshot!(render(&app).backend());
    }

    #[test]
    fn pay_modal_review_step_80x24() {
        let mut app = app_with_request();
        app.update(key(KeyCode::Tab));
        app.update(key(KeyCode::Enter));
        insta::assert_snapshot!(render(&app).backend());
    }

    #[test]
    fn split_review_shows_each_part_yours_first_80x24() {
        let mut app = crate::tui::state::tests::money::app_in_a_group_of_three();
        for c in "/split 10 pizza".chars() {
            app.update(key(KeyCode::Char(c)));
        }
        app.update(key(KeyCode::Enter));
        insta::assert_snapshot!(render(&app).backend());
    }

    /// The demo's request paid from its card (Tab, Enter, Enter), and the payment refused.
    fn payment_failed(code: crate::protocol::ErrorCode, message: &str) -> App {
        let mut app = app_with_request();
        app.update(key(KeyCode::Tab));
        app.update(key(KeyCode::Enter));
        app.update(key(KeyCode::Enter));
        app.update(Msg::Done(crate::tui::state::Done::MoneyFailed {
            code,
            message: message.into(),
        }));
        app
    }

    #[test]
    fn pay_modal_failed_step_offers_a_safe_retry_80x24() {
        let app = payment_failed(
            crate::protocol::ErrorCode::Internal,
            "connection lost; Enter retries safely",
        );
        insta::assert_snapshot!(render(&app).backend());
    }

    #[test]
    fn a_long_failure_wraps_under_itself_and_keeps_the_hint_80x24() {
        let app = payment_failed(
            crate::protocol::ErrorCode::LimitExceeded,
            "€50.00 would take today's payments to €2,050.00, over the daily limit \
             of €2,000.00 set on this server",
        );
        let screen = render(&app);
        let rows: Vec<String> = screen
            .backend()
            .buffer()
            .content()
            .chunks(80)
            .map(|row| row.iter().map(|cell| cell.symbol()).collect())
            .collect();
        let error = rows.iter().position(|row| row.contains("│ ✗ ")).unwrap();
        assert!(
            rows[error + 1].contains("│   over the daily limit"),
            "the error goes on under its words: {rows:#?}"
        );
        assert!(
            rows.iter().any(|row| row.contains("│ Esc back")),
            "the hint is still there: {rows:#?}"
        );
        insta::assert_snapshot!(screen.backend());
    }

    #[test]
    fn pay_modal_stops_at_the_amount_in_a_currency_not_held_80x24() {
        let mut app = app_with_request();
        app.update(key(KeyCode::F(2)));
        for c in "5 USD".chars() {
            app.update(key(KeyCode::Char(c)));
        }
        app.update(key(KeyCode::Enter));
        insta::assert_snapshot!(render(&app).backend());
    }

    fn a_funding(id: i64, kind: &str, status: &str) -> crate::protocol::funding::Funding {
        use crate::protocol::funding::{Funding, FundingId, FundingKind, FundingStatus};
        let kind = FundingKind::parse(kind).unwrap();
        Funding {
            id: FundingId(id),
            kind,
            provider: "sandbox".into(),
            amount: crate::money::Money::new(
                2_000,
                crate::money::Currency::from_code("EUR").unwrap(),
            ),
            status: FundingStatus::parse(status).unwrap(),
            reason: if status == "failed" {
                "account closed".into()
            } else {
                String::new()
            },
            checkout_url: (kind == FundingKind::Topup)
                .then(|| "http://127.0.0.1:4243/checkout/tu_5c1d2e3f4a5b6c7d".into()),
            bank_account: (kind == FundingKind::Payout).then(|| "DE•••3000".into()),
            transfer_id: None,
            created_at: crate::protocol::TimestampMs(super::DAY_TWO),
            updated_at: crate::protocol::TimestampMs(super::DAY_TWO),
        }
    }

    #[test]
    fn a_pending_top_up_shows_where_to_pay_80x24() {
        let mut app = app_with_request();
        app.update(Msg::Done(Done::TopupStarted(a_funding(
            5, "topup", "pending",
        ))));
        insta::assert_snapshot!(render(&app).backend());
    }

    #[test]
    fn the_wallet_lists_top_ups_and_withdrawals_100x30() {
        let mut app = wallet_app(100, 30);
        app.update(Msg::Done(Done::Fundings(vec![
            a_funding(3, "payout", "failed"),
            a_funding(2, "payout", "pending"),
            a_funding(1, "topup", "succeeded"),
        ])));
        insta::assert_snapshot!(render(&app).backend());
    }

    #[test]
    fn a_withdrawal_review_hides_most_of_the_account_80x24() {
        let mut app = app_with_request();
        app.bank_account = Some("DE89370400440532013000".into());
        for c in "/withdraw 20".chars() {
            app.update(key(KeyCode::Char(c)));
        }
        app.update(key(KeyCode::Enter));
        insta::assert_snapshot!(render(&app).backend());
    }

    fn wallet_app(width: u16, height: u16) -> App {
        use crate::tui::state::tests::money::statement;
        let mut app = app_with_request();
        app.update(Msg::Resize(width, height));
        app.update(Msg::Tick {
            now: app.now,
            wall: crate::protocol::TimestampMs(super::DAY_TWO + 7_200_000),
        });
        app.update(key(KeyCode::F(4)));
        app.update(Msg::Done(crate::tui::state::Done::Statement(statement())));
        app
    }

    #[test]
    fn wallet_view_100x30() {
        insta::assert_snapshot!(render(&wallet_app(100, 30)).backend());
    }

    #[test]
    fn wallet_view_uses_a_wide_screen_200x30() {
        insta::assert_snapshot!(render(&wallet_app(200, 30)).backend());
    }

    #[test]
    fn wallet_view_with_nothing_spent_shows_the_axis_and_says_so_80x24() {
        let mut app = wallet_app(80, 24);
        app.update(Msg::Done(crate::tui::state::Done::Statement(Vec::new())));
        insta::assert_snapshot!(render(&app).backend());
    }

    #[test]
    fn wallet_view_per_week_filtered_80x24() {
        let mut app = wallet_app(80, 24);
        app.update(key(KeyCode::Tab));
        type_text(&mut app, "cof");
        insta::assert_snapshot!(render(&app).backend());
    }

    #[test]
    fn pay_modal_recipient_pin_and_receipt_steps_80x24() {
        use crate::tui::state::modal::{Modal, ModalKind, Step};
        let mut app = app_with_request();
        let eur = crate::money::Currency::from_code("EUR").unwrap();
        let mut modal = Modal::new(
            ModalKind::Pay,
            ConversationId(2),
            vec!["bob".into(), "carol".into()],
            eur,
            crate::protocol::payments::IdempotencyKey("k".into()),
        );
        modal.chosen = 1;
        app.modal = Some(modal.clone());
        let recipient = render(&app);
        modal.amount_text = "20".into();
        modal.memo = "tickets".into();
        modal.step = Step::Pin;
        modal.pin = "12".into();
        app.modal = Some(modal.clone());
        let pin = render(&app);
        modal.step = Step::Receipt("Paid €20.00 to carol. Your balance: €80.00.".into());
        app.modal = Some(modal);
        let receipt = render(&app);
        insta::assert_snapshot!("recipient", recipient.backend());
        insta::assert_snapshot!("pin", pin.backend());
        insta::assert_snapshot!("receipt", receipt.backend());
    }

    #[test]
    fn invoice_card_and_its_review_80x24() {
        use crate::tui::state::tests::money::app_with_invoice;
        let mut app = app_with_invoice();
        let card = render(&app);
        app.update(key(KeyCode::Tab));
        app.update(key(KeyCode::Enter));
        let review = render(&app);
        insta::assert_snapshot!("invoice_card", card.backend());
        insta::assert_snapshot!("invoice_review", review.backend());
    }
}

#[test]
fn search_results_with_their_matches_80x24() {
    let mut app = connected_app(80, 24);
    app.update(ctrl('f'));
    type_text(&mut app, "lunch");
    app.update(key(KeyCode::Enter));
    let hit = |id: i64, conversation: i64, text: &str| {
        let start = text.find("lunch").unwrap();
        results::SearchHit {
            message: message(id, conversation, &user(2, "bob"), text, DAY_TWO),
            highlights: vec![[start, start + 5]],
        }
    };
    let found = results::Search {
        hits: vec![
            hit(40, 2, "team lunch on friday"),
            hit(
                1,
                1,
                "a long preamble that goes on and on and on before the word lunch, and more after it",
            ),
        ],
    };
    app.update(Msg::Done(Done::Searched {
        query: "lunch".into(),
        found,
    }));
    app.update(key(KeyCode::Down));
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn a_message_jumped_to_from_search_is_highlighted() {
    let mut app = connected_app(80, 24);
    let row_style = |app: &App| {
        let terminal = render(app);
        let buffer = terminal.backend().buffer();
        let row = (0..buffer.area.height)
            .find(|&y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .contains("morning! coffee")
            })
            .unwrap();
        let x = (0..buffer.area.width)
            .find(|&x| buffer[(x, row)].symbol() == "m")
            .unwrap();
        buffer[(x, row)].style()
    };
    let theme = Theme::default();
    assert_ne!(row_style(&app).bg, theme.selected.bg);
    app.focus = Some((ConversationId(1), MessageId(1)));
    assert_eq!(row_style(&app).bg, theme.selected.bg);
}

#[test]
fn a_reply_an_edit_a_tombstone_and_reactions_80x24() {
    let mut app = connected_app(80, 24);
    let (alice, bob) = (user(1, "alice"), user(2, "bob"));
    let mut edited = message(3, 1, &alice, "sure, 11:00 at the usual place", DAY_TWO);
    edited.edited_at = Some(crate::protocol::TimestampMs(DAY_TWO + 60_000));
    edited.reactions = vec![
        crate::protocol::model::Reaction {
            emoji: "👍".into(),
            users: vec![bob.clone()],
        },
        crate::protocol::model::Reaction {
            emoji: "🎉".into(),
            users: vec![alice.clone(), bob.clone()],
        },
        crate::protocol::model::Reaction {
            emoji: "❤️".into(),
            users: (3..7).map(|id| user(id, &format!("fan{id}"))).collect(),
        },
    ];
    let mut reply = message(4, 1, &bob, "perfect, see you there", DAY_TWO + 120_000);
    reply.reply_to = Some(Box::new(crate::protocol::model::Quote {
        id: MessageId(3),
        sender: alice.clone(),
        text: "sure, 11:00 at the usual place".into(),
        deleted: false,
    }));
    let mut deleted = message(5, 1, &bob, "", DAY_TWO + 180_000);
    deleted.deleted = true;
    for event in [
        Event::MessageUpdated { message: edited },
        Event::Message { message: reply },
        Event::Message { message: deleted },
    ] {
        app.update(Msg::Session(SessionEvent::Event { event }));
    }
    // Unselected, who reacted while they are few (the same on every side, live or after a
    // restart), else how many.
    insta::assert_snapshot!(render(&app).backend());
    // Selected, a message says everyone who reacted.
    app.update(ctrl('s'));
    app.update(key(KeyCode::Char('k')));
    app.update(key(KeyCode::Char('k')));
    insta::assert_snapshot!("selected_reactions_name_who", render(&app).backend());
}

#[test]
fn the_sidebar_counts_mentions_apart() {
    let mut app = connected_app(80, 24);
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message {
            message: message(10, 2, &user(2, "bob"), "@alice look", DAY_TWO),
        },
    }));
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let general = (0..buffer.area.height)
        .map(|y| (0..20).map(|x| buffer[(x, y)].symbol()).collect::<String>())
        .find(|row| row.contains("#general"))
        .unwrap();
    assert!(general.contains("3 · 1@"), "{general:?}");
}

#[test]
fn a_narrow_status_bar_keeps_the_help_hint_and_gives_way_on_the_left() {
    let mut app = connected_app(40, 12);
    app.balances = vec![crate::money::Money::new(
        25_000,
        crate::money::Currency::from_code("EUR").unwrap(),
    )];
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let status: String = (0..buffer.area.width)
        .map(|x| buffer[(x, buffer.area.height - 1)].symbol())
        .collect();
    assert!(status.contains("€250.00"), "{status:?}");
    assert!(status.contains("F1 help"), "the hint stays: {status:?}");
    assert!(
        !status.contains("alice"),
        "who you are gives way first: {status:?}"
    );
    let wide = connected_app(120, 20);
    let terminal = render(&wide);
    let buffer = terminal.backend().buffer();
    let status: String = (0..buffer.area.width)
        .map(|x| buffer[(x, buffer.area.height - 1)].symbol())
        .collect();
    assert!(status.trim_end().ends_with("F1 help"), "{status:?}");
}
