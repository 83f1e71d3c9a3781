//! The search bar, its results, the jump to a found message and n / N.

use super::*;

fn hit(id: i64, conversation: i64, text: &str, word: &str) -> results::SearchHit {
    let start = text.find(word).unwrap();
    results::SearchHit {
        message: message(id, conversation, &user(2, "bob"), text, DAY_TWO),
        highlights: vec![[start, start + word.len()]],
    }
}

/// alice searched "lunch" and got two hits: message 40 in the group (2), message 3's
/// neighbour 1 in the direct conversation (1).
fn with_results() -> App {
    let mut app = connected_app(80, 24);
    app.update(ctrl('f'));
    type_text(&mut app, "lunch");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::Search {
            query: "lunch".into()
        }]
    );
    let found = results::Search {
        hits: vec![
            hit(40, 2, "team lunch on friday", "lunch"),
            hit(1, 1, "lunch later?", "lunch"),
        ],
    };
    app.update(Msg::Done(Done::Searched {
        query: "lunch".into(),
        found,
    }));
    app
}

#[test]
fn ctrl_f_and_a_slash_open_the_bar_and_a_slash_command_still_runs() {
    let mut app = connected_app(80, 24);
    app.update(key(KeyCode::Char('/')));
    assert!(app.search.as_ref().is_some_and(|bar| bar.slash));
    type_text(&mut app, "dm carol");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::OpenDirect("carol".into())]
    );
    assert!(app.search.is_none());

    app.update(key(KeyCode::Char('/')));
    type_text(&mut app, "teleport");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::Search {
            query: "teleport".into()
        }],
        "not a command: a search"
    );
    app.update(key(KeyCode::Esc));
    assert!(app.search.is_none());

    type_text(&mut app, "//not a command");
    let effects = app.update(key(KeyCode::Enter));
    assert!(matches!(effects.as_slice(), [Effect::Send { text, .. }] if text == "/not a command"));

    app.update(ctrl('f'));
    type_text(&mut app, "pay");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        [Effect::Search {
            query: "pay".into()
        }],
        "Ctrl+F always searches"
    );
}

#[test]
fn a_query_that_cannot_be_read_is_shown_and_not_sent() {
    let mut app = connected_app(80, 24);
    app.update(ctrl('f'));
    type_text(&mut app, "lunch \"next");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(
        matches!(&app.notice, Some(Notice { kind: NoticeKind::Error, text: e, .. }) if e.contains("column 7"))
    );
    assert!(app.search.is_some(), "the bar stays to fix the query");
}

#[test]
fn enter_jumps_to_a_hit_loading_its_history_and_n_goes_to_the_next() {
    let mut app = with_results();
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Up));
    // The first hit is in the group, whose history was never loaded.
    let effects = app.update(key(KeyCode::Enter));
    assert!(app.search.is_none());
    assert_eq!(app.selected, Some(ConversationId(2)));
    assert!(effects.contains(&Effect::LoadHistory {
        conversation_id: ConversationId(2),
        before: None,
    }));
    assert_eq!(app.focus, Some((ConversationId(2), MessageId(40))));

    // The newest page lacks it: an older page is asked for, until it is there.
    let bob = user(2, "bob");
    let newest = results::History {
        messages: (50..60)
            .map(|id| message(id, 2, &bob, "later", DAY_TWO))
            .collect(),
        has_more: true,
        others_read_up_to: None,
    };
    let effects = app.update(Msg::Done(Done::History {
        conversation_id: ConversationId(2),
        before: None,
        page: newest,
    }));
    assert!(effects.contains(&Effect::LoadHistory {
        conversation_id: ConversationId(2),
        before: Some(MessageId(50)),
    }));
    let older = results::History {
        messages: (35..50)
            .map(|id| message(id, 2, &bob, &format!("message {id}"), DAY_TWO))
            .collect(),
        has_more: true,
        others_read_up_to: None,
    };
    app.update(Msg::Done(Done::History {
        conversation_id: ConversationId(2),
        before: Some(MessageId(50)),
        page: older,
    }));
    let timeline = &app.timelines[&ConversationId(2)];
    assert!(timeline.scroll > 0, "scrolled up to message 40");
    let below = app.pane(timeline).rows_below(MessageId(40)).unwrap();
    assert!(timeline.scroll <= below, "message 40 is on screen");

    app.update(key(KeyCode::Char('n')));
    assert_eq!(app.selected, Some(ConversationId(1)));
    assert_eq!(app.focus, Some((ConversationId(1), MessageId(1))));
    app.update(key(KeyCode::Char('N')));
    assert_eq!(app.focus, Some((ConversationId(2), MessageId(40))));

    // Any other key leaves the found messages and does what it does.
    app.update(key(KeyCode::Char('h')));
    assert!(app.found.is_none() && app.focus.is_none());
    assert_eq!(app.composer.lines(), ["h"]);
}

#[test]
fn a_late_answer_to_an_older_query_is_ignored() {
    let mut app = with_results();
    let bar = app.search.as_mut().unwrap();
    bar.input.insert_str(" friday");
    app.update(key(KeyCode::Enter));
    app.update(Msg::Done(Done::Searched {
        query: "lunch".into(),
        found: results::Search { hits: vec![] },
    }));
    let bar = app.search.as_ref().unwrap();
    assert!(bar.pending);
    assert_eq!(
        bar.hits.len(),
        2,
        "the older results stay until the new ones come"
    );
}
