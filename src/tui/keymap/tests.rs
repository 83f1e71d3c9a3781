use super::*;
use crossterm::event::{KeyCode, KeyModifiers};

fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

#[test]
fn defaults_map_keys_to_actions() {
    let keymap = Keymap::default();
    assert_eq!(
        keymap.action_for(&key(KeyCode::Enter, KeyModifiers::NONE)),
        Some(Action::Send)
    );
    assert_eq!(
        keymap.action_for(&key(KeyCode::Enter, KeyModifiers::ALT)),
        Some(Action::Newline)
    );
    assert_eq!(
        keymap.action_for(&key(KeyCode::Char('n'), KeyModifiers::CONTROL)),
        Some(Action::NextConversation)
    );
    assert_eq!(
        keymap.action_for(&key(KeyCode::Char('n'), KeyModifiers::NONE)),
        None
    );
}

#[test]
fn rebinding_changes_both_the_keys_and_the_help() {
    let mut keymap = Keymap::default();
    keymap.rebind("quit", &["ctrl-x".into()]).unwrap();
    assert_eq!(
        keymap.action_for(&key(KeyCode::Char('x'), KeyModifiers::CONTROL)),
        Some(Action::Quit)
    );
    assert_eq!(
        keymap.action_for(&key(KeyCode::Char('q'), KeyModifiers::CONTROL)),
        None
    );
    assert!(
        keymap
            .help_rows(Scope::Chat)
            .iter()
            .any(|(keys, help)| keys == "Ctrl+X" && *help == "quit quid")
    );
    assert!(
        keymap
            .rebind("fly", &[])
            .unwrap_err()
            .contains("no action named")
    );
    assert!(
        keymap
            .rebind("quit", &["hyper-q".into()])
            .unwrap_err()
            .contains("not a key")
    );
}

#[test]
fn every_action_is_documented_in_the_example_config_with_its_defaults() {
    let example = include_str!("../../../config.example.toml");
    for (_, name, keys, _) in every_action() {
        let shown = match keys {
            [one] => format!("{name} = \"{one}\""),
            many => format!(
                "{name} = [{}]",
                many.iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        assert!(
            example.contains(&shown),
            "config.example.toml lacks {shown}"
        );
    }
}

#[test]
fn the_modal_card_and_wallet_keys_are_in_the_table_and_rebindable() {
    let mut keymap = Keymap::default();
    let enter = key(KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        keymap.action_in(Scope::Modal, &enter),
        Some(Action::Confirm)
    );
    assert_eq!(keymap.action_in(Scope::Card, &enter), Some(Action::PayCard));
    let ctrl_e = key(KeyCode::Char('e'), KeyModifiers::CONTROL);
    assert_eq!(
        keymap.action_in(Scope::Wallet, &ctrl_e),
        Some(Action::Export)
    );
    keymap.rebind("decline_card", &["x".into()]).unwrap();
    let x = key(KeyCode::Char('x'), KeyModifiers::NONE);
    assert_eq!(keymap.action_in(Scope::Card, &x), Some(Action::DeclineCard));
    assert!(
        keymap
            .help_rows(Scope::Card)
            .iter()
            .any(|(keys, help)| keys == "x" && help.starts_with("decline"))
    );
    keymap.rebind("export", &["tab".into()]).unwrap();
    assert_eq!(
        keymap.conflicts(),
        [(Action::Period, Action::Export, Key::parse("tab").unwrap())],
        "one scope, one meaning per key"
    );
}

#[test]
fn selection_keys_answer_only_in_selection_and_n_is_not_shift_n() {
    let keymap = Keymap::default();
    let r = key(KeyCode::Char('r'), KeyModifiers::NONE);
    assert_eq!(keymap.action_for(&r), None, "r is typed while writing");
    assert_eq!(keymap.action_in(Scope::Selection, &r), Some(Action::Reply));
    let big_n = key(KeyCode::Char('N'), KeyModifiers::SHIFT);
    let small_n = key(KeyCode::Char('n'), KeyModifiers::NONE);
    assert_eq!(
        keymap.action_in(Scope::Selection, &big_n),
        Some(Action::PreviousFound)
    );
    assert_eq!(
        keymap.action_in(Scope::Selection, &small_n),
        Some(Action::NextFound)
    );
    let mut keymap = keymap;
    keymap.rebind("reply", &["a".into()]).unwrap();
    assert_eq!(keymap.action_in(Scope::Selection, &r), None);
    assert!(
        keymap
            .help_rows(Scope::Selection)
            .iter()
            .any(|(keys, help)| keys == "a" && help.starts_with("reply:"))
    );
}
