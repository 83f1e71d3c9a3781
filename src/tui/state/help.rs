//! The help overlay's content and its search: every key of every scope from the live keymap,
//! the composer's readline keys, the mouse, and the slash commands, in sections. Typing
//! narrows the list; nothing here is written by hand twice.

use super::commands::COMMANDS;
use crate::tui::keymap::{Keymap, SCOPES};
use crate::tui::text::{width, wrap};
use ratatui::layout::Rect;

/// The composer's editing keys (the text area's own, with readline's meaning where they
/// differ; see `readline_edit`). Not rebindable, so not in the keymap.
const EDITING: &[(&str, &str)] = &[
    ("Ctrl+A, Ctrl+E", "start / end of the line"),
    ("Ctrl+B, ←, →", "a character back / forward"),
    ("Alt+B, Alt+F", "a word back / forward"),
    ("Ctrl+W, Alt+D", "delete the word before / after"),
    ("Ctrl+U, Ctrl+K", "delete to the start / end of the line"),
    ("Ctrl+Y", "yank what was deleted"),
    ("Ctrl+Z", "undo"),
    ("Tab after @na", "complete a member's name"),
    ("a paste", "kept whole, line breaks included"),
];

const MOUSE: &[(&str, &str)] = &[
    ("click", "a conversation in the sidebar opens it"),
    ("wheel", "scrolls the messages (older ones load)"),
    ("Shift+drag", "selects text for the terminal's own copy"),
];

/// Commands typed in the composer that are not in the command table.
const COMPOSER: &[(&str, &str)] = &[
    ("//text", "sends \"/text\" as a message"),
    ("/ then words", "searches, when the words are not a command"),
    ("?", "this help, in an empty composer"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpRow {
    pub section: &'static str,
    pub keys: String,
    pub text: String,
}

/// The help overlay's state: what is typed to narrow it, and how far it is scrolled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Help {
    pub filter: String,
    pub scroll: u16,
}

/// One line of the help overlay, laid out for its width: a section's heading, or keys and
/// (part of) their text; a row too long for the width goes on under empty keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpLine {
    Section(&'static str),
    Row { keys: String, text: String },
}

/// The help overlay, laid out: its width, the keys column's, and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpLayout {
    pub width: u16,
    pub key_width: usize,
    pub lines: Vec<HelpLine>,
}

/// Lines help's frame and search line take besides the list.
pub const CHROME_LINES: usize = 4;
/// Widest the keys column gets, and narrowest the overlay.
const MAX_KEY_COLUMN: usize = 24;

/// The help box's title, which the box is never narrower than (where the screen allows).
pub const TITLE: &str = " quid help · type to search · ↑↓ PgUp PgDn scroll · Esc closes ";
const MIN_WIDTH: u16 = 40;
/// Narrowest the text column gets beside the keys; narrower, the text goes under them.
const MIN_TEXT_COLUMN: usize = 24;

impl Help {
    /// The matching rows under their sections' headings, wrapped to fit `screen_width`.
    pub fn layout(&self, keymap: &Keymap, screen_width: u16) -> HelpLayout {
        // Measured on every row, not only those matching: the box keeps its size and its
        // columns while a search narrows the list, and never cuts its own title.
        let all = rows(keymap);
        let key_width = all
            .iter()
            .map(|r| width(&r.keys))
            .max()
            .unwrap_or(0)
            .min(MAX_KEY_COLUMN);
        // A border and a space each side, two spaces between the columns.
        let natural = all
            .iter()
            .map(|r| key_width + width(&r.text))
            .max()
            .unwrap_or(0)
            + 6;
        let overlay = u16::try_from(natural.max(width(TITLE) + 2))
            .unwrap_or(u16::MAX)
            .max(MIN_WIDTH)
            .min(screen_width);
        let rows = self.visible(keymap);
        // Too narrow for two columns: each row's keys, then its text on the lines below.
        let narrow = usize::from(overlay) < key_width + 6 + MIN_TEXT_COLUMN;
        let key_width = if narrow { 0 } else { key_width };
        let room = usize::from(overlay).saturating_sub(key_width + 6);
        let mut lines = Vec::new();
        let mut section = "";
        for row in rows {
            if row.section != section {
                section = row.section;
                lines.push(HelpLine::Section(section));
            }
            let mut keys = row.keys;
            // Keys wider than their column (a command with its arguments) get a line of their
            // own, and the text starts at the column below them.
            if narrow || width(&keys) > key_width {
                lines.push(HelpLine::Row {
                    keys: std::mem::take(&mut keys),
                    text: String::new(),
                });
            }
            for text in wrap(&row.text, room) {
                lines.push(HelpLine::Row {
                    keys: std::mem::take(&mut keys),
                    text,
                });
            }
        }
        HelpLayout {
            width: overlay,
            key_width,
            lines,
        }
    }

    /// Scrolls by `step` lines, no further than the last line at the bottom of the screen.
    pub fn scroll_by(&mut self, step: i32, keymap: &Keymap, screen: Rect) {
        let total = self.layout(keymap, screen.width).lines.len() + CHROME_LINES;
        let most = total.saturating_sub(usize::from(screen.height));
        let wanted = i64::from(self.scroll) + i64::from(step);
        self.scroll = u16::try_from(wanted.clamp(0, most as i64)).unwrap_or(0);
    }

    /// The rows that match the filter (in keys, text or section; any case), in order.
    pub fn visible(&self, keymap: &Keymap) -> Vec<HelpRow> {
        let filter = self.filter.to_lowercase();
        rows(keymap)
            .into_iter()
            .filter(|row| {
                [row.section, row.keys.as_str(), row.text.as_str()]
                    .iter()
                    .any(|field| field.to_lowercase().contains(&filter))
            })
            .collect()
    }
}

/// Every row of help, section by section.
pub fn rows(keymap: &Keymap) -> Vec<HelpRow> {
    let mut rows = Vec::new();
    for (scope, section, _) in SCOPES {
        for (keys, text) in keymap.help_rows(*scope) {
            rows.push(HelpRow {
                section,
                keys,
                text: text.to_owned(),
            });
        }
    }
    let fixed = [
        ("Editing a message", EDITING),
        ("Mouse", MOUSE),
        ("Commands (type in the composer)", COMMANDS),
        ("Commands (type in the composer)", COMPOSER),
    ];
    for (section, table) in fixed {
        rows.extend(table.iter().map(|(keys, text)| HelpRow {
            section,
            keys: (*keys).to_owned(),
            text: (*text).to_owned(),
        }));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_keeps_the_boxs_width_and_every_text_in_its_column() {
        let keymap = Keymap::default();
        let all = Help::default().layout(&keymap, 100);
        for search in ["split", "withdraw", "invoice"] {
            let help = Help {
                filter: search.into(),
                scroll: 0,
            };
            let layout = help.layout(&keymap, 100);
            assert_eq!(layout.width, all.width, "{search}: the box keeps its width");
            assert!(usize::from(layout.width) >= width(TITLE) + 2);
            for line in &layout.lines {
                if let HelpLine::Row { keys, text } = line
                    && !text.is_empty()
                {
                    assert!(
                        width(keys) <= layout.key_width,
                        "{search}: {keys:?} pushes {text:?} out of its column"
                    );
                }
            }
        }
    }

    #[test]
    fn help_covers_every_scope_the_editor_the_mouse_and_the_commands() {
        let rows = rows(&Keymap::default());
        let has =
            |keys: &str, text: &str| rows.iter().any(|r| r.keys == keys && r.text.contains(text));
        assert!(has("Enter", "send the message"));
        assert!(has("d", "decline it"));
        assert!(has("Ctrl+E", "save the statement"));
        assert!(has("Ctrl+U", "clear the amount"));
        assert!(has("Ctrl+W, Alt+D", "delete the word"));
        assert!(has("wheel", "scrolls"));
        assert!(has("//text", "sends \"/text\""));
        assert!(has("Tab", "pick a request or invoice card"));
    }

    #[test]
    fn typing_narrows_help_to_what_matches() {
        let keymap = Keymap::default();
        let mut help = Help::default();
        let all = help.visible(&keymap).len();
        help.filter = "INVOICE".into();
        let found = help.visible(&keymap);
        assert!(!found.is_empty() && found.len() < all);
        assert!(found.iter().all(|r| {
            format!("{} {} {}", r.section, r.keys, r.text)
                .to_lowercase()
                .contains("invoice")
        }));
        help.filter = "zzz".into();
        assert!(help.visible(&keymap).is_empty());
    }
}
