//! Secret conversations in the state machine: sending seals (no outbox), a refusal gives the
//! text back, unreadable messages say why, and verification's prompt and answers.

use super::*;
use crate::session::VerifyEvent;

/// alice connected, with bob's secret conversation (id 5) selected and loaded.
fn in_secret_conversation() -> App {
    let mut app = connected_app(80, 24);
    let mut secret = conversation(5, ConversationKind::Direct, "bob", 0, 3);
    secret.secret = true;
    app.update(Msg::Done(Done::Opened(secret)));
    app.update(Msg::Done(Done::History {
        conversation_id: ConversationId(5),
        before: None,
        page: results::History {
            messages: Vec::new(),
            has_more: false,
            others_read_up_to: None,
        },
    }));
    app
}

fn enter(app: &mut App, text: &str) -> Vec<Effect> {
    let mut effects = type_text(app, text);
    effects.extend(app.update(key(KeyCode::Enter)));
    effects
}

#[test]
fn offline_a_secret_message_stays_queued_and_a_refusal_once_back_gives_the_text_back() {
    let mut app = in_secret_conversation();
    let effects = enter(&mut app, "written offline");
    let Some(&Effect::SendSecret { client_id, .. }) = effects
        .iter()
        .find(|e| matches!(e, Effect::SendSecret { .. }))
    else {
        panic!("sealed and sent: {effects:?}");
    };
    app.update(Msg::Done(Done::SecretHeld {
        conversation_id: ConversationId(5),
    }));
    let timeline = &app.timelines[&ConversationId(5)];
    assert_eq!(timeline.queued_count(), 1, "shown as queued");
    let notice = app.visible_notice().map(|n| n.text.clone());
    assert_eq!(
        notice.as_deref(),
        Some("offline: kept encrypted on this device; sealed and sent once connected")
    );

    // Back, the session tries it; bob's keys changed meanwhile: the text comes back.
    app.update(Msg::Session(SessionEvent::SecretNotSent {
        client_id,
        conversation_id: ConversationId(5),
        text: "written offline".into(),
        reason: "bob's keys changed".into(),
    }));
    assert_eq!(app.timelines[&ConversationId(5)].queued_count(), 0);
    assert_eq!(app.composer.lines(), ["written offline"]);
}

#[test]
fn a_secret_message_is_sealed_and_sent_not_queued_and_a_refusal_gives_the_text_back() {
    let mut app = in_secret_conversation();
    assert_eq!(
        app.selected_entry().map(|e| e.label()),
        Some("🔒bob".into())
    );
    let effects = enter(&mut app, "the code is 4711");
    let Some(Effect::SendSecret {
        client_id,
        other,
        text,
        ..
    }) = effects
        .into_iter()
        .find(|e| matches!(e, Effect::SendSecret { .. }))
    else {
        panic!("a secret message is sealed, not queued in the outbox");
    };
    assert_eq!((other.as_str(), text.as_str()), ("bob", "the code is 4711"));
    assert!(app.composer.is_empty());

    app.update(Msg::Done(Done::SecretNotSent {
        client_id,
        conversation_id: ConversationId(5),
        text,
        reason: "new device kmFd frw7 for bob; verify, then /accept-keys".into(),
    }));
    assert_eq!(
        app.composer.lines(),
        ["the code is 4711"],
        "nothing typed is lost"
    );
    let notice = app
        .visible_notice()
        .map(|n| n.text.clone())
        .unwrap_or_default();
    assert!(notice.starts_with("not sent: new device"), "{notice}");
    assert!(
        app.timelines[&ConversationId(5)].entries.is_empty(),
        "the queued copy is gone"
    );
}

#[test]
fn a_message_that_cannot_be_read_says_why() {
    let mut app = in_secret_conversation();
    let mut unreadable = message(9, 5, &user(2, "bob"), "", DAY_TWO);
    unreadable.unreadable = Some("not sealed for this device".into());
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message {
            message: unreadable,
        },
    }));
    let entry = app.timelines[&ConversationId(5)].entries.last().cloned();
    assert_eq!(
        entry.and_then(|e| e.unreadable),
        Some("not sealed for this device".into())
    );
}

#[test]
fn verification_shows_the_code_takes_the_answer_and_marks_the_lock() {
    let mut app = in_secret_conversation();
    let effects = enter(&mut app, "/verify");
    assert!(effects.contains(&Effect::Verify {
        conversation_id: ConversationId(5),
        other: "bob".into()
    }));
    let early = enter(&mut app, "/verify yes");
    assert!(early.is_empty(), "no code to answer yet");

    app.update(Msg::Session(SessionEvent::Verify(VerifyEvent::Compare {
        conversation_id: ConversationId(5),
        txn: "t1".into(),
        username: "bob".into(),
        emoji: "🐶 Dog  🔑 Key".into(),
        decimals: "1 2 3".into(),
    })));
    assert!(app.comparing.is_some());
    // Typing /verify again (or bob's /verify, to agree) compares; it starts nothing more.
    assert!(enter(&mut app, "/verify").is_empty());
    let notice = app.visible_notice().map(|n| n.text.clone());
    assert_eq!(
        notice.as_deref(),
        Some("the code is on screen: if bob's shows the same, /verify yes; else /verify no")
    );
    let effects = enter(&mut app, "/verify yes");
    assert!(effects.contains(&Effect::Compared {
        txn: "t1".into(),
        matches: true
    }));
    app.update(Msg::Session(SessionEvent::Verify(VerifyEvent::Verified {
        conversation_id: ConversationId(5),
        username: "bob".into(),
    })));
    assert_eq!(
        app.selected_entry().map(|e| e.label()),
        Some("🔐bob".into())
    );
    // Accepting new keys later means they are not verified ones.
    app.update(Msg::Done(Done::KeysAccepted {
        username: "bob".into(),
        devices: 2,
    }));
    assert_eq!(
        app.selected_entry().map(|e| e.label()),
        Some("🔒bob".into())
    );

    let mut plain = connected_app(80, 24);
    enter(&mut plain, "/verify");
    let notice = plain
        .visible_notice()
        .map(|n| n.text.clone())
        .unwrap_or_default();
    assert!(
        notice.contains("works in a secret conversation"),
        "{notice}"
    );
}

#[test]
fn a_disappearing_message_leaves_the_screen_on_time() {
    let mut app = in_secret_conversation();
    let mut going = message(9, 5, &user(2, "bob"), "gone soon", DAY_TWO);
    going.expires_at = Some(TimestampMs(DAY_TWO + 60_000));
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: going },
    }));
    let texts = |app: &App| -> Vec<String> {
        app.timelines[&ConversationId(5)]
            .entries
            .iter()
            .map(|e| e.text.clone())
            .collect()
    };
    assert_eq!(texts(&app), ["gone soon"]);
    let now = app.now;
    app.update(Msg::Tick {
        now,
        wall: TimestampMs(DAY_TWO + 59_999),
    });
    assert_eq!(texts(&app), ["gone soon"]);
    app.update(Msg::Tick {
        now,
        wall: TimestampMs(DAY_TWO + 60_000),
    });
    assert!(texts(&app).is_empty(), "gone at its time");

    let effects = enter(&mut app, "/timer 1h");
    assert!(effects.contains(&Effect::SetTimer {
        conversation_id: ConversationId(5),
        other: "bob".into(),
        seconds: 3_600
    }));
}

#[test]
fn a_payment_with_a_memo_in_a_secret_conversation_checks_the_devices_before_money_moves() {
    let mut app = in_secret_conversation();
    app.update(Msg::Done(Done::Balance(vec![super::money::eur(10_000)])));
    assert!(app.update(key(KeyCode::F(2))).is_empty());
    type_text(&mut app, "12.5");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "for the flat");
    app.update(key(KeyCode::Enter));
    let effects = app.update(key(KeyCode::Enter));
    let [
        Effect::Pay {
            memo, sealed_for, ..
        },
    ] = effects.as_slice()
    else {
        panic!("expected a payment, got {effects:?}");
    };
    assert!(
        memo.starts_with("sealed:"),
        "the ledger gets a reference: {memo}"
    );
    assert_eq!(
        sealed_for.as_deref(),
        Some("bob"),
        "bob's devices are checked first"
    );

    // Paid: the memo goes sealed as the message the card's reference names, so both sides
    // can tell when it has disappeared.
    use crate::protocol::payments::{Transfer, TransferId, TransferKind};
    let transfer = Transfer {
        id: TransferId(9),
        kind: TransferKind::Payment,
        from: Some(user(1, "alice")),
        to: user(2, "bob"),
        amount: super::money::eur(1_250),
        memo: memo.clone(),
        conversation_id: Some(ConversationId(5)),
        request_id: None,
        created_at: TimestampMs(0),
    };
    let reference = memo.clone();
    let effects = app.update(Msg::Done(Done::Paid(crate::protocol::results::Paid {
        transfer,
        balance_after: super::money::eur(8_750),
        duplicate: false,
    })));
    let sent = effects.iter().find_map(|e| match e {
        Effect::SendSecret {
            client_id, text, ..
        } => Some((*client_id, text.as_str())),
        _ => None,
    });
    let expected = crate::protocol::payments::sealed_memo_client_id(&reference).unwrap();
    assert_eq!(sent, Some((expected, "memo: for the flat")), "{effects:?}");
}

#[test]
fn a_server_cannot_turn_a_secret_conversation_back_into_a_plain_one() {
    // Listed as secret once, then as plain: it stays secret, and what is typed is sealed.
    let mut app = in_secret_conversation();
    let plain_again = conversation(5, ConversationKind::Direct, "bob", 0, 3);
    app.update(Msg::Done(Done::Conversations(vec![plain_again.clone()])));
    assert!(app.selected_entry().is_some_and(|e| e.secret));
    let effects = enter(&mut app, "still secret?");
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::SendSecret { .. })),
        "{effects:?}"
    );

    // A fresh start: the secret store says conversation 5 is secret, the server says not.
    let mut fresh = connected_app(80, 24);
    fresh.update(Msg::Session(SessionEvent::Verify(VerifyEvent::Trusted {
        usernames: Vec::new(),
        secret_conversations: vec![ConversationId(5)],
    })));
    fresh.update(Msg::Done(Done::Conversations(vec![plain_again])));
    let entry = fresh
        .conversations
        .iter()
        .find(|c| c.id == ConversationId(5));
    assert!(entry.is_some_and(|e| e.secret), "shown as plain: {entry:?}");
}
