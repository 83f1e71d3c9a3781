//! Selection mode: moving over messages, replying, editing, deleting, reacting, copying.

use super::*;
use crate::tui::state::input::Draft;
use crate::tui::state::selection::REACTIONS;

fn ctrl_s() -> Msg {
    ctrl('s')
}

#[test]
fn the_selection_moves_over_messages_and_ends_past_the_newest() {
    let mut app = connected_app(80, 24);
    app.update(ctrl_s());
    assert!(app.selecting);
    assert_eq!(app.focus, Some((ConversationId(1), MessageId(3))));
    app.update(key(KeyCode::Char('k')));
    assert_eq!(app.focus, Some((ConversationId(1), MessageId(1))));
    app.update(key(KeyCode::Down));
    assert_eq!(app.focus, Some((ConversationId(1), MessageId(3))));
    app.update(key(KeyCode::Char('j')));
    assert!(
        !app.selecting && app.focus.is_none(),
        "past the newest: back to writing"
    );

    app.update(ctrl_s());
    app.update(key(KeyCode::Char('x')));
    assert!(!app.selecting, "another key leaves the selection");
    assert_eq!(app.composer.lines(), ["x"], "and is typed");
}

#[test]
fn r_replies_with_a_quote_and_enter_sends_it_answering_that_message() {
    let mut app = connected_app(80, 24);
    app.update(ctrl_s());
    app.update(key(KeyCode::Char('k'))); // bob's "morning! coffee later?"
    app.update(key(KeyCode::Char('r')));
    assert!(
        matches!(&app.draft, Some(Draft::Reply(q)) if q.id == MessageId(1) && q.sender == "bob")
    );
    type_text(&mut app, "yes please");
    let effects = app.update(key(KeyCode::Enter));
    assert!(
        matches!(effects.as_slice(), [Effect::Send { text, reply_to: Some(MessageId(1)), .. }] if text == "yes please"),
        "{effects:?}"
    );
    assert!(app.draft.is_none());
    let queued = app.timelines[&ConversationId(1)].entries.last().unwrap();
    assert_eq!(queued.reply.as_ref().map(|q| q.id), Some(MessageId(1)));

    // Esc drops a reply being written.
    app.update(ctrl_s());
    app.update(key(KeyCode::Char('r')));
    app.update(key(KeyCode::Esc));
    assert!(app.draft.is_none());
}

#[test]
fn e_edits_only_your_own_text_and_enter_saves_it() {
    let mut app = connected_app(80, 24);
    app.update(ctrl_s());
    app.update(key(KeyCode::Char('k')));
    app.update(key(KeyCode::Char('e')));
    assert!(
        matches!(&app.notice, Some(Notice { kind: NoticeKind::Error, text: e, .. }) if e.contains("only your own"))
    );
    assert!(app.draft.is_none());
    app.update(key(KeyCode::Char('j')));
    app.update(key(KeyCode::Char('e')));
    assert_eq!(app.draft, Some(Draft::Edit(MessageId(3))));
    assert_eq!(app.composer.lines(), ["sure, 10:30 at the usual place"]);
    app.update(key(KeyCode::Backspace));
    type_text(&mut app, "e!");
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::EditMessage {
            message_id: MessageId(3),
            text: "sure, 10:30 at the usual place!".into()
        }]
    );
    assert_eq!(app.queued_count(), 0, "an edit queues no new message");
}

#[test]
fn d_asks_first_then_deletes_and_an_update_shows_the_tombstone() {
    let mut app = connected_app(80, 24);
    app.update(ctrl_s());
    assert!(app.update(key(KeyCode::Char('d'))).is_empty());
    assert!(
        matches!(&app.notice, Some(Notice { kind: NoticeKind::Info, text: e, .. }) if e.contains("d deletes"))
    );
    // Changing one's mind: any other key after the first d keeps the message.
    assert!(app.update(key(KeyCode::Char('x'))).is_empty());
    assert!(app.selecting && app.composer.is_empty());
    app.update(key(KeyCode::Char('d')));
    assert_eq!(
        app.update(key(KeyCode::Char('d'))),
        [Effect::DeleteMessage(MessageId(3))]
    );

    let mut gone = message(3, 1, &user(1, "alice"), "", DAY_TWO);
    gone.deleted = true;
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::MessageUpdated { message: gone },
    }));
    let entry = app.timelines[&ConversationId(1)]
        .find(MessageId(3))
        .unwrap();
    assert!(entry.deleted);

    // Someone else's message is not yours to delete.
    app.update(key(KeyCode::Char('k')));
    assert!(app.update(key(KeyCode::Char('d'))).is_empty());
    assert!(
        matches!(&app.notice, Some(Notice { kind: NoticeKind::Error, text: e, .. }) if e.contains("only your own"))
    );
}

#[test]
fn plus_and_a_digit_react_and_the_same_again_takes_it_back() {
    let mut app = connected_app(80, 24);
    app.update(ctrl_s());
    app.update(key(KeyCode::Char('k')));
    app.update(key(KeyCode::Char('+')));
    let effects = app.update(key(KeyCode::Char('1')));
    assert_eq!(
        effects,
        [Effect::React {
            message_id: MessageId(1),
            emoji: REACTIONS[0].into(),
            remove: false
        }]
    );
    let mut reacted = message(1, 1, &user(2, "bob"), "morning! coffee later?", DAY_TWO);
    reacted.reactions = vec![crate::protocol::model::Reaction {
        emoji: REACTIONS[0].into(),
        users: vec![user(1, "alice")],
    }];
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::MessageUpdated { message: reacted },
    }));
    app.update(key(KeyCode::Char('+')));
    let effects = app.update(key(KeyCode::Char('1')));
    assert!(matches!(
        effects.as_slice(),
        [Effect::React { remove: true, .. }]
    ));
}

#[test]
fn y_copies_the_inert_text_and_enter_on_a_reply_goes_to_its_original() {
    let mut app = connected_app(80, 24);
    let mut reply = message(4, 1, &user(2, "bob"), "see you \x1b[2J there", DAY_TWO);
    reply.reply_to = Some(Box::new(crate::protocol::model::Quote {
        id: MessageId(3),
        sender: user(1, "alice"),
        text: "sure, 10:30 at the usual place".into(),
        deleted: false,
    }));
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: reply },
    }));
    app.update(ctrl_s());
    let effects = app.update(key(KeyCode::Char('y')));
    assert!(
        matches!(effects.as_slice(), [Effect::Copy(text)] if text.starts_with("see you ") && !text.contains('\x1b')),
        "{effects:?}"
    );
    app.update(key(KeyCode::Enter));
    assert_eq!(app.focus, Some((ConversationId(1), MessageId(3))));
}

fn group_message(id: i64, text: &str) -> Msg {
    Msg::Session(SessionEvent::Event {
        event: Event::Message {
            message: message(id, 2, &user(2, "bob"), text, DAY_TWO + id * 60_000),
        },
    })
}

#[test]
fn a_mention_counts_apart_is_highlighted_and_rings_even_when_muted() {
    let mut app = connected_app(80, 24);
    let group = |app: &App| {
        let entry = app
            .conversations
            .iter()
            .find(|c| c.id == ConversationId(2))
            .unwrap();
        (entry.unread, entry.mentions)
    };
    let before = group(&app);
    app.update(group_message(10, "@alice can you check?"));
    assert_eq!(group(&app), (before.0 + 1, 1));

    type_text(&mut app, "/mute");
    app.update(key(KeyCode::Enter)); // mutes @bob, the selected one
    app.update(Msg::Done(Done::Conversations(vec![
        conversation(1, ConversationKind::Direct, "bob", 0, 3),
        {
            let mut muted = conversation(2, ConversationKind::Group, "general", 3, 10);
            muted.muted = true;
            muted.unread_mentions = 1;
            muted
        },
    ])));
    let rings = |effects: &[Effect]| effects.iter().any(|e| matches!(e, Effect::Notify { .. }));
    assert!(
        !rings(&app.update(group_message(11, "lunch anyone?"))),
        "muted: no bell"
    );
    assert!(
        rings(&app.update(group_message(12, "@alice?"))),
        "a mention still rings"
    );
    assert_eq!(group(&app), (5, 2), "the badge stays");

    // Opened, the mention is highlighted and the counts go.
    app.update(ctrl('n'));
    let page = results::History {
        messages: vec![message(12, 2, &user(2, "bob"), "@alice?", DAY_TWO)],
        has_more: false,
        others_read_up_to: None,
    };
    app.update(Msg::Done(Done::History {
        conversation_id: ConversationId(2),
        before: None,
        page,
    }));
    assert!(app.timelines[&ConversationId(2)].entries[0].mentions_me);
    assert_eq!(group(&app), (0, 0));
}

#[test]
fn slash_mute_asks_the_server_for_the_selected_conversation() {
    let mut app = connected_app(80, 24);
    type_text(&mut app, "/mute");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::Mute {
            conversation_id: ConversationId(1),
            muted: true
        }]
    );
}

#[test]
fn tab_completes_a_members_name_after_an_at_and_picks_cards_otherwise() {
    let mut app = connected_app(80, 24);
    type_text(&mut app, "thanks @b");
    app.update(key(KeyCode::Tab));
    assert_eq!(app.composer.lines(), ["thanks @bob "]);
    type_text(&mut app, "@z");
    app.update(key(KeyCode::Tab));
    assert_eq!(app.composer.lines(), ["thanks @bob @z"]);
    assert!(
        matches!(&app.notice, Some(Notice { kind: NoticeKind::Info, text: n, .. }) if n.contains("no member here starts with @z"))
    );
}
