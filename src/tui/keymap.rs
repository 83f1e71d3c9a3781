//! Keys map to named actions through one table. The help overlay is generated from the live
//! table and a profile's `[profiles.NAME.keys]` edits it, so help never drifts from bindings.

mod key;

use crossterm::event::KeyEvent;
pub use key::Key;

/// Everything a key can do outside plain text editing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    NextConversation,
    PrevConversation,
    ScrollUp,
    ScrollDown,
    ScrollTop,
    ScrollBottom,
    Send,
    Newline,
    Recall,
    Dismiss,
    Pay,
    RequestMoney,
    SelectRequest,
    Wallet,
    Topup,
    Search,
    SelectMessage,
    // In selection mode (after SelectMessage, or a jump from search):
    Older,
    Newer,
    Reply,
    Edit,
    Delete,
    React,
    Copy,
    ToOriginal,
    OpenFile,
    PreviousFound,
    NextFound,
    EndSelection,
    // On a request or invoice card picked with Tab:
    PayCard,
    DeclineCard,
    CancelCard,
    NextCard,
    LeaveCard,
    // In the money modal:
    Confirm,
    Back,
    ChoosePrevious,
    ChooseNext,
    ClearField,
    // In the wallet view:
    Period,
    Export,
    WalletUp,
    WalletDown,
    WalletPageUp,
    WalletPageDown,
    CloseWallet,
}

/// Where a key acts: writing (the composer), on a selected message, on a picked card, in the
/// money modal, in the wallet. One key may mean one thing per scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Chat,
    Selection,
    Card,
    Modal,
    Wallet,
}

type Row = (Action, &'static str, &'static [&'static str], &'static str);

/// Each scope's table and its heading in help, in the order help shows them.
pub const SCOPES: &[(Scope, &str, &[Row])] = &[
    (Scope::Chat, "Keys while writing", ACTIONS),
    (
        Scope::Selection,
        "On a selected message (Ctrl+S)",
        SELECTION_ACTIONS,
    ),
    (Scope::Card, "On a request or invoice (Tab)", CARD_ACTIONS),
    (
        Scope::Modal,
        "Paying and asking (F2, F3, /split)",
        MODAL_ACTIONS,
    ),
    (Scope::Wallet, "In the wallet (F4)", WALLET_ACTIONS),
];

impl Action {
    fn scope(self) -> Scope {
        SCOPES
            .iter()
            .find(|(_, _, rows)| rows.iter().any(|row| row.0 == self))
            .map_or(Scope::Chat, |(scope, ..)| *scope)
    }
}

const CARD_ACTIONS: &[Row] = &[
    (
        Action::PayCard,
        "pay_card",
        &["enter"],
        "pay it (a request or invoice to you): opens the review",
    ),
    (
        Action::DeclineCard,
        "decline_card",
        &["d"],
        "decline it (a request to you)",
    ),
    (
        Action::CancelCard,
        "cancel_card",
        &["c"],
        "cancel it (your own request)",
    ),
    (
        Action::NextCard,
        "next_card",
        &["tab"],
        "the next open request or invoice here",
    ),
    (Action::LeaveCard, "leave_card", &["esc"], "back to writing"),
];

const MODAL_ACTIONS: &[Row] = &[
    (
        Action::Confirm,
        "confirm",
        &["enter"],
        "next step; on the review, send (a retry never pays twice)",
    ),
    (
        Action::Back,
        "back",
        &["esc"],
        "one step back; from the first, close",
    ),
    (
        Action::ChoosePrevious,
        "choose_previous",
        &["up"],
        "the person above",
    ),
    (
        Action::ChooseNext,
        "choose_next",
        &["down", "tab"],
        "the person below",
    ),
    (
        Action::ClearField,
        "clear_field",
        &["ctrl-u"],
        "clear the amount or memo",
    ),
];

const WALLET_ACTIONS: &[Row] = &[
    (
        Action::Period,
        "period",
        &["tab"],
        "spending per day or per week",
    ),
    (
        Action::Export,
        "export",
        &["ctrl-e"],
        "save the statement shown as CSV",
    ),
    (
        Action::WalletUp,
        "wallet_up",
        &["up"],
        "scroll the statement",
    ),
    (Action::WalletDown, "wallet_down", &["down"], "scroll down"),
    (
        Action::WalletPageUp,
        "wallet_page_up",
        &["pageup"],
        "a page up",
    ),
    (
        Action::WalletPageDown,
        "wallet_page_down",
        &["pagedown"],
        "a page down",
    ),
    (
        Action::CloseWallet,
        "close_wallet",
        &["esc", "f4"],
        "close the wallet (typing filters it)",
    ),
];

/// The keys of selection mode, as `ACTIONS`. An upper-case key is told apart from its lower
/// case (N is not n); a lower-case one answers both, so N comes first.
const SELECTION_ACTIONS: &[Row] = &[
    (
        Action::Older,
        "older",
        &["k", "up"],
        "older: select the message before",
    ),
    (
        Action::Newer,
        "newer",
        &["j", "down"],
        "newer: the one after (past the newest, back to writing)",
    ),
    (
        Action::Reply,
        "reply",
        &["r"],
        "reply: answer it, quoting it",
    ),
    (Action::Edit, "edit", &["e"], "edit: change it (yours)"),
    (
        Action::Delete,
        "delete",
        &["d"],
        "delete: for everyone (yours; the key twice)",
    ),
    (
        Action::React,
        "react",
        &["+"],
        "react: then 1-6 (the same again takes it back)",
    ),
    (
        Action::Copy,
        "copy",
        &["y"],
        "copy: its text to the clipboard (OSC 52)",
    ),
    (
        Action::ToOriginal,
        "to_original",
        &["enter"],
        "original: on a reply, the message it answers; on a file, save it to Downloads",
    ),
    (
        Action::OpenFile,
        "open_file",
        &["o"],
        "open: a file, saved to Downloads first, with the system's opener",
    ),
    (
        Action::PreviousFound,
        "previous_found",
        &["N"],
        "previous match: after a search",
    ),
    (
        Action::NextFound,
        "next_found",
        &["n"],
        "next match: after a search",
    ),
    (
        Action::EndSelection,
        "end_selection",
        &["esc"],
        "back: to writing",
    ),
];

/// (action, config name, default keys, help text), in the order help shows them.
const ACTIONS: &[Row] = &[
    (Action::Send, "send", &["enter"], "send the message"),
    (
        Action::Newline,
        "newline",
        &["alt-enter"],
        "new line in the message",
    ),
    (
        Action::NextConversation,
        "next_conversation",
        &["alt-down", "ctrl-n"],
        "next conversation",
    ),
    (
        Action::PrevConversation,
        "prev_conversation",
        &["alt-up", "ctrl-p"],
        "previous conversation",
    ),
    (
        Action::ScrollUp,
        "scroll_up",
        &["pageup"],
        "scroll up (older messages load)",
    ),
    (
        Action::ScrollDown,
        "scroll_down",
        &["pagedown"],
        "scroll down",
    ),
    (
        Action::ScrollTop,
        "scroll_top",
        &["home"],
        "jump to the oldest loaded message",
    ),
    (
        Action::ScrollBottom,
        "scroll_bottom",
        &["end"],
        "jump to the newest message",
    ),
    (
        Action::Recall,
        "recall",
        &["up"],
        "recall what you sent (empty composer)",
    ),
    (Action::Pay, "pay", &["f2"], "pay someone here"),
    (
        Action::RequestMoney,
        "request",
        &["f3"],
        "ask someone here for money",
    ),
    (
        Action::Wallet,
        "wallet",
        &["f4"],
        "wallet: balances, history, spending, CSV export",
    ),
    (
        Action::Topup,
        "topup",
        &["f5"],
        "top up: add money from a card (/topup AMOUNT)",
    ),
    (
        Action::Search,
        "search",
        &["ctrl-f"],
        "search all chats (also /); Enter opens, then n / N",
    ),
    (
        Action::SelectMessage,
        "select_message",
        &["ctrl-s"],
        "select a message to reply, edit, delete, react, copy",
    ),
    (
        Action::SelectRequest,
        "select_request",
        &["tab"],
        "complete an @name; or pick a request or invoice card",
    ),
    (
        Action::Help,
        "help",
        &["f1"],
        "this help (also ? in an empty composer)",
    ),
    (
        Action::Dismiss,
        "dismiss",
        &["esc"],
        "close help, clear a notice",
    ),
    (Action::Quit, "quit", &["ctrl-c", "ctrl-q"], "quit quid"),
];

/// Every action of every scope.
fn every_action() -> impl Iterator<Item = &'static Row> {
    SCOPES.iter().flat_map(|(_, _, rows)| rows.iter())
}

impl Action {
    pub fn config_name(self) -> &'static str {
        every_action().find(|a| a.0 == self).map_or("?", |a| a.1)
    }

    fn from_config_name(name: &str) -> Option<Action> {
        every_action().find(|a| a.1 == name).map(|a| a.0)
    }

    pub fn all_names() -> String {
        every_action().map(|a| a.1).collect::<Vec<_>>().join(", ")
    }
}

/// The live bindings: defaults, with a profile's overrides applied.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<(Action, Vec<Key>)>,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = every_action()
            .map(|(action, _, keys, _)| {
                let keys = keys.iter().filter_map(|k| Key::parse(k).ok()).collect();
                (*action, keys)
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// Replaces the keys of the action named `action` with `keys`.
    pub fn rebind(&mut self, action: &str, keys: &[String]) -> Result<(), String> {
        let action = Action::from_config_name(action).ok_or_else(|| {
            format!(
                "no action named {action:?}; actions: {}",
                Action::all_names()
            )
        })?;
        let keys = keys
            .iter()
            .map(|k| Key::parse(k))
            .collect::<Result<Vec<_>, _>>()?;
        for (bound, existing) in &mut self.bindings {
            if *bound == action {
                *existing = keys.clone();
            }
        }
        Ok(())
    }

    /// Pairs of actions of one scope bound to the same key, with the key.
    pub fn conflicts(&self) -> Vec<(Action, Action, Key)> {
        let mut found = Vec::new();
        for (at, (first, keys)) in self.bindings.iter().enumerate() {
            for (second, others) in &self.bindings[at + 1..] {
                if first.scope() != second.scope() {
                    continue;
                }
                if let Some(key) = keys.iter().find(|k| others.contains(k)) {
                    found.push((*first, *second, *key));
                }
            }
        }
        found
    }

    /// The action `event` is bound to while writing.
    pub fn action_for(&self, event: &KeyEvent) -> Option<Action> {
        self.action_in(Scope::Chat, event)
    }

    /// The action `event` is bound to in `scope`.
    pub fn action_in(&self, scope: Scope, event: &KeyEvent) -> Option<Action> {
        self.bindings
            .iter()
            .filter(|(action, _)| action.scope() == scope)
            .find(|(_, keys)| keys.iter().any(|k| k.matches(event)))
            .map(|(action, _)| *action)
    }

    /// (keys as shown, help text) for every action of `scope`, for the help overlay.
    pub fn help_rows(&self, scope: Scope) -> Vec<(String, &'static str)> {
        self.bindings
            .iter()
            .filter(|(action, _)| action.scope() == scope)
            .map(|(action, keys)| {
                let shown = keys
                    .iter()
                    .map(Key::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let help = every_action().find(|a| a.0 == *action).map_or("", |a| a.3);
                (
                    if shown.is_empty() {
                        "(unbound)".into()
                    } else {
                        shown
                    },
                    help,
                )
            })
            .collect()
    }

    /// The first key bound to `action`, as shown to people (for hints in the status bar).
    pub fn key_hint(&self, action: Action) -> String {
        self.bindings
            .iter()
            .find(|(a, _)| *a == action)
            .and_then(|(_, keys)| keys.first())
            .map_or_else(|| action.config_name().to_owned(), Key::to_string)
    }
}

#[cfg(test)]
mod tests;
