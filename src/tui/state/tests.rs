//! The state machine driven by scripted messages, asserted without a terminal.

use super::*;
use crate::protocol::{
    ClientMsgId, ConversationKind, ErrorCode, Event, Message, MessageId, UserId, results,
};
use crate::session::SessionEvent;
use crate::tui::timeline::Delivery;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent};

pub(crate) mod files;
pub(crate) mod funding;
mod keys_and_notices;
pub(crate) mod money;
pub(crate) mod search;
pub(crate) mod secret;
pub(crate) mod selection;

pub(crate) const DAY_ONE: i64 = 1_795_511_700_000; // 2026-11-24 09:15 UTC
pub(crate) const DAY_TWO: i64 = 1_795_593_720_000; // 2026-11-25 08:02 UTC

pub(crate) fn user(id: i64, name: &str) -> User {
    User::new(UserId(id), name)
}

pub(crate) fn conversation(
    id: i64,
    kind: ConversationKind,
    name: &str,
    unread: u32,
    last: i64,
) -> Conversation {
    Conversation {
        id: ConversationId(id),
        kind,
        name: name.into(),
        members: vec![user(1, "alice"), user(2, "bob")],
        unread,
        last_message_id: Some(MessageId(last)),
        last_activity: TimestampMs(DAY_TWO + last * 60_000),
        others_read_up_to: None,
        unread_mentions: 0,
        muted: false,
        secret: false,
    }
}

pub(crate) fn message(id: i64, conversation: i64, from: &User, text: &str, at: i64) -> Message {
    Message {
        id: MessageId(id),
        conversation_id: ConversationId(conversation),
        sender: from.clone(),
        client_id: ClientMsgId::random(),
        text: text.into(),
        sent_at: TimestampMs(at),
        card: None,
        reply_to: None,
        file: None,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        sealed: None,
        expires_at: None,
        unreadable: None,
    }
}

/// alice, connected, with a direct conversation (id 1) with bob and a group (id 2), the
/// direct one selected and its history loaded.
pub(crate) fn connected_app(width: u16, height: u16) -> App {
    let now = Instant::now();
    let mut app = App::new(
        "demo",
        Keymap::default(),
        Rect::new(0, 0, width, height),
        now,
        0,
        crate::tui::state::fresh::FreshIds::counting(),
    );
    app.update(Msg::Session(SessionEvent::Connected {
        user: user(1, "alice"),
    }));
    app.update(Msg::Session(SessionEvent::CaughtUp));
    app.update(Msg::Done(Done::Conversations(vec![
        conversation(1, ConversationKind::Direct, "bob", 0, 3),
        conversation(2, ConversationKind::Group, "general", 2, 2),
    ])));
    let (alice, bob) = (user(1, "alice"), user(2, "bob"));
    let page = results::History {
        messages: vec![
            message(1, 1, &bob, "morning! coffee later?", DAY_ONE),
            message(3, 1, &alice, "sure, 10:30 at the usual place", DAY_TWO),
        ],
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

pub(crate) fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub(crate) fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub(crate) fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| app.update(key(KeyCode::Char(c))))
        .collect()
}

fn texts(app: &App, id: i64) -> Vec<String> {
    app.timelines[&ConversationId(id)]
        .entries
        .iter()
        .map(|e| e.text.clone())
        .collect()
}

#[test]
fn connecting_loads_conversations_then_the_first_ones_history() {
    let mut app = App::new(
        "demo",
        Keymap::default(),
        Rect::new(0, 0, 80, 24),
        Instant::now(),
        0,
        crate::tui::state::fresh::FreshIds::counting(),
    );
    let effects = app.update(Msg::Session(SessionEvent::Connected {
        user: user(1, "alice"),
    }));
    assert_eq!(effects, [Effect::LoadConversations, Effect::LoadBalance]);
    let effects = app.update(Msg::Done(Done::Conversations(vec![
        conversation(2, ConversationKind::Group, "general", 2, 2),
        conversation(1, ConversationKind::Direct, "bob", 0, 3),
    ])));
    assert_eq!(
        app.conversations[0].id,
        ConversationId(1),
        "most recent first"
    );
    assert_eq!(app.selected, Some(ConversationId(1)));
    assert_eq!(
        effects,
        [Effect::LoadHistory {
            conversation_id: ConversationId(1),
            before: None
        }]
    );
}

#[test]
fn sending_shows_the_message_queued_then_sent_then_read() {
    let mut app = connected_app(80, 24);
    type_text(&mut app, "see you there");
    let effects = app.update(key(KeyCode::Enter));
    let [
        Effect::Send {
            conversation_id,
            client_id,
            text,
            reply_to: None,
        },
    ] = effects.as_slice()
    else {
        panic!("expected one send, got {effects:?}");
    };
    assert_eq!((conversation_id.0, text.as_str()), (1, "see you there"));
    assert!(app.composer.is_empty());
    let timeline = &app.timelines[&ConversationId(1)];
    let queued = timeline.entries.last().unwrap();
    assert_eq!(timeline.delivery(queued), Delivery::Queued);
    assert_eq!(app.queued_count(), 1);

    let mut sent = message(4, 1, &user(1, "alice"), "see you there", DAY_TWO + 60_000);
    sent.client_id = *client_id;
    app.update(Msg::Session(SessionEvent::Sent {
        client_id: *client_id,
        message: sent.clone(),
    }));
    // The same message also arrives as an event: it must not appear twice.
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: sent },
    }));
    let timeline = &app.timelines[&ConversationId(1)];
    assert_eq!(
        texts(&app, 1)
            .iter()
            .filter(|t| *t == "see you there")
            .count(),
        1
    );
    assert_eq!(
        timeline.delivery(timeline.entries.last().unwrap()),
        Delivery::Sent
    );

    let read = Event::Read {
        conversation_id: ConversationId(1),
        user: user(2, "bob"),
        up_to: MessageId(4),
    };
    app.update(Msg::Session(SessionEvent::Event { event: read }));
    let timeline = &app.timelines[&ConversationId(1)];
    assert_eq!(
        timeline.delivery(timeline.entries.last().unwrap()),
        Delivery::Read
    );
    assert_eq!(app.queued_count(), 0);
}

#[test]
fn a_message_out_of_view_counts_as_unread_notifies_and_is_read_on_switching() {
    let mut app = connected_app(80, 24);
    let incoming = message(5, 2, &user(2, "bob"), "standup in 5", DAY_TWO + 600_000);
    let effects = app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: incoming },
    }));
    assert_eq!(
        effects,
        [Effect::Notify {
            title: "bob in #general".into(),
            body: "standup in 5".into()
        }]
    );
    assert_eq!(
        app.conversations[0].id,
        ConversationId(2),
        "activity moves it to the top"
    );
    assert_eq!(app.conversations[0].unread, 3);

    let effects = app.update(ctrl('p'));
    assert_eq!(app.selected, Some(ConversationId(2)));
    assert_eq!(
        effects,
        [Effect::LoadHistory {
            conversation_id: ConversationId(2),
            before: None
        }]
    );
    let bob = user(2, "bob");
    let page = results::History {
        messages: vec![
            message(2, 2, &bob, "one", DAY_TWO),
            message(4, 2, &bob, "two", DAY_TWO + 60_000),
            message(5, 2, &bob, "standup in 5", DAY_TWO + 120_000),
        ],
        has_more: false,
        others_read_up_to: None,
    };
    let effects = app.update(Msg::Done(Done::History {
        conversation_id: ConversationId(2),
        before: None,
        page,
    }));
    assert_eq!(
        effects,
        [Effect::MarkRead {
            conversation_id: ConversationId(2),
            up_to: MessageId(5)
        }]
    );
    assert_eq!(app.conversations[0].unread, 0);
    assert_eq!(
        app.timelines[&ConversationId(2)].new_marker,
        Some(MessageId(2))
    );
}

#[test]
fn slash_commands_become_effects_and_mistakes_are_shown_inline() {
    let mut app = connected_app(80, 24);
    type_text(&mut app, "/dm carol");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::OpenDirect("carol".into())]
    );
    assert!(app.composer.is_empty());

    // A pasted line reaches the composer whole: an unknown command there is shown.
    app.update(Msg::Paste("/teleport".into()));
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(
        matches!(&app.notice, Some(Notice { kind: NoticeKind::Error, text: e, .. }) if e.contains("unknown command /teleport"))
    );
    assert_eq!(
        app.composer.lines(),
        ["/teleport"],
        "the text stays to be fixed"
    );

    app.update(key(KeyCode::Esc));
    assert_eq!(app.notice, None);
    app.composer = input::new_composer();

    // tmux and most xterms end pasted lines with CR: the lines stay lines.
    app.update(Msg::Paste("one\rtwo\r\nthree\nfour".into()));
    assert_eq!(app.composer.lines(), ["one", "two", "three", "four"]);
    app.composer = input::new_composer();
    // A one-line field takes the first line.
    app.update(key(KeyCode::F(2)));
    app.update(Msg::Paste("12.50\rsecond line".into()));
    assert_eq!(app.modal.as_ref().unwrap().amount_text, "12.50");
    app.update(key(KeyCode::Esc));
    assert!(app.modal.is_none());

    type_text(&mut app, "/leave");
    app.update(key(KeyCode::Enter));
    assert!(
        matches!(&app.notice, Some(Notice { kind: NoticeKind::Error, text: e, .. }) if e.contains("not one"))
    );

    app.composer = input::new_composer();
    type_text(&mut app, "//not a command");
    let effects = app.update(key(KeyCode::Enter));
    assert!(matches!(effects.as_slice(), [Effect::Send { text, .. }] if text == "/not a command"));
}

#[test]
fn read_marks_hold_when_the_reader_replies_and_after_a_restart() {
    let mut app = connected_app(80, 24);
    let timeline = &app.timelines[&ConversationId(1)];
    let mine = timeline.entries.last().unwrap().clone();
    assert_eq!(timeline.delivery(&mine), Delivery::Sent);
    // bob answers without any read event: his message says he read what came before.
    let reply = message(4, 1, &user(2, "bob"), "see you", DAY_TWO + 60_000);
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: reply },
    }));
    let timeline = &app.timelines[&ConversationId(1)];
    assert_eq!(timeline.delivery(&mine), Delivery::Read);

    // A restart: the conversation list says how far bob read.
    let mut restarted = App::new(
        "demo",
        Keymap::default(),
        Rect::new(0, 0, 80, 24),
        Instant::now(),
        0,
        crate::tui::state::fresh::FreshIds::counting(),
    );
    restarted.update(Msg::Session(SessionEvent::Connected {
        user: user(1, "alice"),
    }));
    let mut listed = conversation(1, ConversationKind::Direct, "bob", 0, 4);
    listed.others_read_up_to = Some(MessageId(4));
    restarted.update(Msg::Done(Done::Conversations(vec![listed])));
    let page = results::History {
        messages: vec![message(3, 1, &user(1, "alice"), "sure", DAY_TWO)],
        has_more: false,
        others_read_up_to: None,
    };
    restarted.update(Msg::Done(Done::History {
        conversation_id: ConversationId(1),
        before: None,
        page,
    }));
    let timeline = &restarted.timelines[&ConversationId(1)];
    assert_eq!(timeline.delivery(&timeline.entries[0]), Delivery::Read);
}

#[test]
fn up_recalls_what_was_sent_and_down_comes_back() {
    let mut app = connected_app(80, 24);
    for text in ["first", "second"] {
        type_text(&mut app, text);
        app.update(key(KeyCode::Enter));
    }
    app.update(key(KeyCode::Up));
    assert_eq!(app.composer.lines(), ["second"]);
    app.update(key(KeyCode::Up));
    assert_eq!(app.composer.lines(), ["first"]);
    app.update(key(KeyCode::Down));
    assert_eq!(app.composer.lines(), ["second"]);
    app.update(key(KeyCode::Down));
    assert!(app.composer.is_empty());
}

#[test]
fn a_lost_connection_counts_down_to_the_retry() {
    let mut app = connected_app(80, 24);
    let start = app.now;
    app.update(Msg::Session(SessionEvent::Disconnected {
        reason: "gone".into(),
        retry_in: Duration::from_secs(4),
    }));
    assert_eq!(app.reconnect_countdown(), Some(4));
    app.dirty = false;
    app.update(Msg::Tick {
        now: start + Duration::from_millis(1500),
        wall: TimestampMs(DAY_TWO),
    });
    assert_eq!(app.reconnect_countdown(), Some(3));
    assert!(
        app.dirty,
        "the countdown changed, so the screen must be redrawn"
    );
    app.dirty = false;
    app.update(Msg::Tick {
        now: start + Duration::from_millis(1600),
        wall: TimestampMs(DAY_TWO),
    });
    assert!(!app.dirty, "nothing visible changed");
    app.update(Msg::Session(SessionEvent::Connected {
        user: user(1, "alice"),
    }));
    assert_eq!(app.link, Link::Connected);
}

#[test]
fn scrolling_past_the_oldest_loaded_message_fetches_older_ones() {
    let mut app = connected_app(80, 24);
    let timeline = app.timelines.get_mut(&ConversationId(1)).unwrap();
    timeline.has_more_before = true;
    let effects = app.update(key(KeyCode::PageUp));
    assert_eq!(
        effects,
        [Effect::LoadHistory {
            conversation_id: ConversationId(1),
            before: Some(MessageId(1))
        }]
    );
    assert!(
        app.update(key(KeyCode::PageUp)).is_empty(),
        "one request at a time"
    );
    let incoming = message(
        9,
        1,
        &user(2, "bob"),
        "arrives at the bottom",
        DAY_TWO + 800_000,
    );
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: incoming },
    }));
    assert_eq!(
        app.timelines[&ConversationId(1)].unseen_below,
        0,
        "everything fits: not scrolled"
    );
    // With a screenful of history, PageUp really leaves the bottom.
    let bob = user(2, "bob");
    let messages = (10..60)
        .map(|id| message(id, 1, &bob, &format!("line {id}"), DAY_TWO + id * 1000))
        .collect();
    let page = results::History {
        messages,
        has_more: false,
        others_read_up_to: None,
    };
    app.update(Msg::Done(Done::History {
        conversation_id: ConversationId(1),
        before: None,
        page,
    }));
    app.update(key(KeyCode::PageUp));
    assert!(app.timelines[&ConversationId(1)].scroll > 0);
    let incoming = message(60, 1, &bob, "while you were up there", DAY_TWO + 900_000);
    let effects = app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: incoming },
    }));
    assert!(effects.is_empty(), "not read while scrolled away from it");
    assert_eq!(app.timelines[&ConversationId(1)].unseen_below, 1);
    let effects = app.update(key(KeyCode::End));
    assert_eq!(app.timelines[&ConversationId(1)].scroll, 0);
    assert_eq!(app.timelines[&ConversationId(1)].unseen_below, 0);
    assert_eq!(
        effects,
        [Effect::MarkRead {
            conversation_id: ConversationId(1),
            up_to: MessageId(60)
        }]
    );
}
