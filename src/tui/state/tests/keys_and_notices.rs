//! The composer's keys, the mouse, help and layers, notices and the bell, inert text, and
//! what `update` may not read.

use super::*;

#[test]
fn typing_is_announced_at_most_every_few_seconds_and_shown_briefly() {
    let mut app = connected_app(80, 24);
    let effects = type_text(&mut app, "hello");
    assert_eq!(effects, [Effect::Typing(ConversationId(1))]);
    app.update(Msg::Session(SessionEvent::Typing {
        conversation_id: ConversationId(1),
        user: user(2, "bob"),
    }));
    assert_eq!(app.typing_here(), Some("bob"));
    app.update(Msg::Tick {
        now: app.now + TYPING_SHOWN_FOR,
        wall: TimestampMs(DAY_TWO),
    });
    assert_eq!(app.typing_here(), None);
}

#[test]
fn hostile_text_is_made_inert_where_it_enters() {
    let mut app = connected_app(80, 24);
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2Jgotcha\u{202e}";
    let mut evil = user(2, "bob");
    evil.username = "bob\u{1b}[31m".into();
    let incoming = message(6, 1, &evil, hostile, DAY_TWO + 300_000);
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: incoming },
    }));
    let entry = app.timelines[&ConversationId(1)].entries.last().unwrap();
    for text in [&entry.text, &entry.sender] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
            "{text:?}"
        );
    }
}

#[test]
fn help_opens_on_question_mark_only_in_an_empty_composer() {
    let mut app = connected_app(80, 24);
    app.update(key(KeyCode::Char('?')));
    assert!(app.help.is_some());
    type_text(&mut app, "pay");
    assert_eq!(
        app.help.as_ref().unwrap().filter,
        "pay",
        "typing searches help"
    );
    app.update(ctrl('u'));
    assert_eq!(app.help.as_ref().unwrap().filter, "", "Ctrl+U clears it");
    app.update(key(KeyCode::Esc));
    assert!(app.help.is_none());
    assert!(
        app.composer.is_empty(),
        "what was typed in help stays there"
    );
    type_text(&mut app, "why");
    app.update(key(KeyCode::Char('?')));
    assert!(app.help.is_none());
    assert_eq!(app.composer.lines(), ["why?"]);
    assert_eq!(app.update(ctrl('c')), [Effect::Quit]);
}

#[test]
fn ctrl_u_deletes_to_the_start_of_the_line_as_in_readline() {
    let mut app = connected_app(80, 24);
    type_text(&mut app, "hello world");
    app.update(ctrl('u'));
    assert!(app.composer.is_empty());
    app.update(ctrl('z'));
    assert_eq!(app.composer.lines(), ["hello world"]);
}

#[test]
fn the_mouse_wheel_scrolls_the_pane_and_a_click_selects_a_conversation() {
    use crossterm::event::{MouseButton, MouseEventKind};
    let mut app = connected_app(80, 24);
    app.timelines
        .get_mut(&ConversationId(1))
        .unwrap()
        .has_more_before = true;
    let mouse = |kind, column, row| {
        Msg::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    let effects = app.update(mouse(MouseEventKind::ScrollUp, 40, 10));
    assert_eq!(
        effects,
        [Effect::LoadHistory {
            conversation_id: ConversationId(1),
            before: Some(MessageId(1))
        }]
    );
    app.update(mouse(MouseEventKind::ScrollUp, 5, 10));
    // Row 2 of the sidebar is its second conversation, #general.
    let effects = app.update(mouse(MouseEventKind::Down(MouseButton::Left), 5, 2));
    assert_eq!(app.selected, Some(ConversationId(2)));
    assert_eq!(
        effects,
        [Effect::LoadHistory {
            conversation_id: ConversationId(2),
            before: None
        }]
    );
}

#[test]
fn replayed_history_rings_no_bell_and_asks_no_balance_but_live_news_does() {
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
    app.update(Msg::Done(Done::Conversations(vec![
        conversation(1, ConversationKind::Direct, "bob", 0, 3),
        conversation(2, ConversationKind::Group, "general", 0, 2),
    ])));
    let old = message(5, 2, &user(2, "bob"), "from yesterday", DAY_TWO + 600_000);
    let effects = app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: old },
    }));
    assert!(effects.is_empty(), "replay is history: {effects:?}");
    app.update(Msg::Session(SessionEvent::CaughtUp));
    let news = message(6, 2, &user(2, "bob"), "right now", DAY_TWO + 700_000);
    let effects = app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: news },
    }));
    assert!(
        matches!(effects.as_slice(), [Effect::Notify { .. }]),
        "{effects:?}"
    );
}

#[test]
fn a_notice_stays_in_its_conversation_and_fades() {
    let mut app = connected_app(80, 24);
    let start = app.now;
    app.update(key(KeyCode::F(2)));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Tab));
    let here = app
        .visible_notice()
        .expect("Tab with no card says so")
        .clone();
    assert_eq!(here.conversation, Some(ConversationId(1)));

    app.update(ctrl('n'));
    assert_eq!(app.selected, Some(ConversationId(2)));
    assert!(app.visible_notice().is_none(), "not in #general");
    app.update(ctrl('p'));
    assert!(app.visible_notice().is_some(), "back in @bob it is");

    let tick = |app: &mut App, after: Duration| {
        app.update(Msg::Tick {
            now: start + after,
            wall: app.wall,
        })
    };
    tick(&mut app, Duration::from_millis(5_500));
    assert!(app.visible_notice().unwrap().fading(app.now));
    tick(&mut app, NOTICE_SHOWN_FOR);
    assert!(app.visible_notice().is_none() && app.notice.is_none());

    // A group left is named, and said wherever you land.
    app.update(ctrl('n'));
    app.update(Msg::Done(Done::Left(ConversationId(2))));
    let left = app.visible_notice().expect("said");
    assert_eq!(left.text, "You left #general.");
    assert_eq!(left.conversation, None);
}

#[test]
fn keys_go_to_the_top_layer_first_and_help_is_on_top() {
    let mut app = connected_app(80, 24);
    app.update(ctrl('s'));
    let selected = app.focus;
    assert_eq!(app.layers(), [Layer::Selection]);
    // Keys a selection does not use end it, so help over it comes only from elsewhere (a
    // command's outcome, say); whatever opens it, help is on top and takes the keys.
    app.help = Some(help::Help::default());
    assert_eq!(app.layers(), [Layer::Help, Layer::Selection]);
    app.update(key(KeyCode::Char('k')));
    assert_eq!(app.help.as_ref().unwrap().filter, "k", "help takes the key");
    assert_eq!(
        app.focus, selected,
        "the selection under help does not move"
    );
    app.update(key(KeyCode::Esc));
    assert_eq!(app.layers(), [Layer::Selection]);
}

#[test]
fn update_reads_no_clock_or_random_source() {
    let mut app = connected_app(80, 24);
    let wall = app.wall;
    type_text(&mut app, "hi");
    let effects = app.update(key(KeyCode::Enter));
    let sent = effects.iter().find_map(|e| match e {
        Effect::Send { client_id, .. } => Some(*client_id),
        _ => None,
    });
    assert_eq!(
        sent,
        Some(ClientMsgId(uuid::Uuid::from_u128(1))),
        "the first fresh id"
    );
    let entry = app.timelines[&ConversationId(1)].entries.last().unwrap();
    assert_eq!(
        entry.sent_at, wall,
        "written at the time the state was given"
    );
    app.update(key(KeyCode::F(2)));
    assert_eq!(
        app.modal.as_ref().unwrap().key.0,
        uuid::Uuid::from_u128(2).to_string()
    );
}

#[test]
fn a_refused_session_asks_for_the_password_in_place_and_keeps_what_is_typed() {
    let mut app = connected_app(80, 24);
    app.username = "alice".into();
    app.update(Msg::Session(SessionEvent::AuthRejected {
        reason: "invalid or revoked token; log in again".into(),
    }));
    // Said once, and the prompt is up.
    assert_eq!(app.link, Link::Refused("invalid or revoked token".into()));
    assert_eq!(app.layers().first(), Some(&Layer::LogIn));
    // Put away, the composer still sends: the message is queued, not refused.
    app.update(key(KeyCode::Esc));
    type_text(&mut app, "still here");
    let effects = app.update(key(KeyCode::Enter));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Send { text, .. } if text == "still here")),
        "{effects:?}"
    );
    assert_eq!(app.queued_count(), 1);
    // /login brings the prompt back; a wrong password is said in it and can be typed again.
    type_text(&mut app, "/login");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "nope");
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::LogIn {
            username: "alice".into(),
            password: login::Password("nope".into())
        }]
    );
    assert!(
        format!("{effects:?}").contains("Password(..)"),
        "never printed"
    );
    app.update(Msg::Done(Done::LogInFailed(
        "wrong username or password".into(),
    )));
    let form = app.login.as_ref().unwrap();
    assert!(!form.waiting && form.password.is_empty());
    assert_eq!(form.error.as_deref(), Some("wrong username or password"));
    // Right this time: the session reconnects and the queued message goes out.
    type_text(&mut app, "right");
    app.update(key(KeyCode::Enter));
    app.update(Msg::Done(Done::LoggedIn));
    assert!(app.login.is_none());
    assert_eq!(app.link, Link::Connecting);
    assert!(
        app.visible_notice()
            .unwrap()
            .text
            .contains("queued message goes out")
    );
}
