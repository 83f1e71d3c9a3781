//! Files in the TUI: /attach sends one here (never in a secret conversation), a file
//! message shows its card, Enter on it saves it and `o` opens it too.

use super::*;
use crate::protocol::files::{FileId, FileRef};

fn bill() -> FileRef {
    FileRef {
        id: FileId("0123456789abcdef0123456789abcdef".into()),
        name: "bill\u{1b}[2J.jpg".into(),
        size: 210_000,
        media_type: "image/jpeg".into(),
        sha256: "00".repeat(32),
    }
}

/// alice's app with bob's file message (id 5, captioned) arrived in their conversation.
fn app_with_bobs_file() -> App {
    let mut app = connected_app(80, 24);
    let mut incoming = message(5, 1, &user(2, "bob"), "the receipt", DAY_TWO + 60_000);
    incoming.file = Some(Box::new(bill()));
    app.update(Msg::Session(SessionEvent::Event {
        event: Event::Message { message: incoming },
    }));
    app
}

#[test]
fn attach_sends_the_file_here_with_the_rest_of_the_line_as_its_caption() {
    let mut app = connected_app(80, 24);
    type_text(&mut app, "/attach ~/bill.jpg the receipt");
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::SendFile {
            conversation_id: ConversationId(1),
            path: "~/bill.jpg".into(),
            caption: "the receipt".into(),
        }]
    );
    assert!(
        app.composer.lines().concat().is_empty(),
        "the line was taken"
    );
}

#[test]
fn a_file_message_shows_its_card_inert_and_enter_saves_it_while_o_opens_it() {
    let mut app = app_with_bobs_file();
    let screen = crate::tui::view::tests::screen_text(&app);
    // The clip is two cells wide; the escape in the name is shown, not run.
    assert!(
        screen.contains("bob: 📎  bill␛[2J.jpg · 210 KB · image/jpeg"),
        "{screen}"
    );
    assert!(screen.contains("the receipt"), "{screen}");

    app.update(ctrl('s'));
    assert_eq!(app.focus, Some((ConversationId(1), MessageId(5))));
    let saved = app.update(key(KeyCode::Enter));
    assert_eq!(
        saved,
        [Effect::SaveFile {
            file: bill(),
            open: false
        }]
    );
    let opened = app.update(key(KeyCode::Char('o')));
    assert_eq!(
        opened,
        [Effect::SaveFile {
            file: bill(),
            open: true
        }]
    );
    app.update(Msg::Done(Done::FileSaved(Ok(
        "saved to /tmp/bill.jpg".into()
    ))));
    assert_eq!(
        app.notice.as_ref().map(|n| n.text.as_str()),
        Some("saved to /tmp/bill.jpg")
    );
}
