//! Search in the TUI: the bar (Ctrl+F, or `/` in an empty composer) with its results over the
//! message pane, the jump to a found message (its history loaded until it is there, and
//! selected: see selection.rs), and n / N through the found messages from there.

use super::{App, Effect};
use crate::protocol::{ConversationId, MessageId, TimestampMs, results};
use crate::search::Query;
use crate::untrusted::inert_line;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

/// Characters of context kept before a snippet's first match.
const CONTEXT_CHARS: usize = 24;

/// The search bar and what it found.
pub struct SearchBar {
    pub input: TextArea<'static>,
    /// The query the results answer, once asked.
    pub asked: Option<String>,
    pub pending: bool,
    pub hits: Vec<Hit>,
    /// The hit Enter jumps to.
    pub cursor: usize,
    /// Opened with `/`: a known command name (`/pay`, `/dm bob`) still runs the command.
    pub slash: bool,
}

/// A found message as the results list shows it; text inert, split into pieces that are
/// (text, is a match).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub sender: String,
    pub sent_at: TimestampMs,
    pub snippet: Vec<(String, bool)>,
}

/// The found messages after a jump: n / N move through them in selection mode.
pub struct Found {
    pub hits: Vec<Hit>,
    pub at: usize,
}

impl Hit {
    pub fn from_protocol(hit: &results::SearchHit) -> Hit {
        let message = &hit.message;
        Hit {
            conversation_id: message.conversation_id,
            message_id: message.id,
            sender: inert_line(&message.sender.username),
            sent_at: message.sent_at,
            snippet: snippet(&message.text, &hit.highlights),
        }
    }
}

/// `text` cut at the matches, each piece on one line and inert, starting shortly before the
/// first match. Ranges that do not fall on the text's characters are dropped.
fn snippet(text: &str, highlights: &[[usize; 2]]) -> Vec<(String, bool)> {
    let mut pieces = Vec::new();
    let mut at = 0;
    for &[start, end] in highlights {
        let (Some(before), Some(matched)) = (text.get(at..start), text.get(start..end)) else {
            continue;
        };
        let before = match pieces.is_empty() {
            true => lead_in(before),
            false => before.to_owned(),
        };
        pieces.push((inert_line(&before), false));
        pieces.push((inert_line(matched), true));
        at = end;
    }
    pieces.push((inert_line(text.get(at..).unwrap_or_default()), false));
    pieces.retain(|(piece, _)| !piece.is_empty());
    pieces
}

/// The last `CONTEXT_CHARS` characters of `before`, with "…" when cut.
fn lead_in(before: &str) -> String {
    let count = before.chars().count();
    match count > CONTEXT_CHARS {
        true => format!(
            "…{}",
            before
                .chars()
                .skip(count - CONTEXT_CHARS)
                .collect::<String>()
        ),
        false => before.to_owned(),
    }
}

impl SearchBar {
    fn new(slash: bool) -> SearchBar {
        let mut input = TextArea::default();
        input.set_placeholder_text(
            "words, \"a phrase\", prefix*, -word; Enter searches, Esc closes",
        );
        SearchBar {
            input,
            asked: None,
            pending: false,
            hits: Vec::new(),
            cursor: 0,
            slash,
        }
    }

    fn text(&self) -> String {
        self.input.lines().join(" ")
    }
}

impl App {
    /// Opens the search bar; `slash`: opened by `/` in an empty composer.
    pub(super) fn open_search(&mut self, slash: bool) {
        self.found = None;
        self.search = Some(SearchBar::new(slash));
    }

    /// Keys while the search bar is open.
    pub(super) fn on_search_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        let Some(bar) = self.search.as_mut() else {
            return;
        };
        let hits = bar.hits.len();
        match (key.code, key.modifiers) {
            (KeyCode::Esc, _) => self.search = None,
            // `//text` still sends "/text": the second `/` goes back to the composer.
            (KeyCode::Char('/'), _) if bar.slash && bar.input.is_empty() => {
                self.search = None;
                self.composer.insert_str("//");
            }
            (KeyCode::Enter, _) => self.on_search_enter(effects),
            (KeyCode::Down, _) | (KeyCode::Char('n'), KeyModifiers::CONTROL) if hits > 0 => {
                bar.cursor = (bar.cursor + 1).min(hits - 1);
            }
            (KeyCode::Up, _) | (KeyCode::Char('p'), KeyModifiers::CONTROL) => {
                bar.cursor = bar.cursor.saturating_sub(1);
            }
            _ => {
                bar.input.input(key);
            }
        }
    }

    /// Enter: a new query is asked (or, opened with `/`, a command run); the same query
    /// again jumps to the hit under the cursor.
    fn on_search_enter(&mut self, effects: &mut Vec<Effect>) {
        let Some(bar) = self.search.as_mut() else {
            return;
        };
        let text = bar.text();
        if bar.asked.as_deref() == Some(text.as_str()) {
            if !bar.pending && !bar.hits.is_empty() {
                self.jump_to_hit(effects);
            }
            return;
        }
        if bar.slash && super::commands::is_command(&format!("/{text}")) {
            self.search = None;
            self.composer = super::input::new_composer();
            self.composer.insert_str(format!("/{text}"));
            self.on_action(crate::tui::keymap::Action::Send, effects);
            return;
        }
        if let Err(error) = Query::parse(&text) {
            self.error(error.to_string());
            return;
        }
        self.notice = None;
        bar.asked = Some(text.clone());
        bar.pending = true;
        effects.push(Effect::Search { query: text });
    }

    /// The server's answer to the bar's query.
    pub(super) fn on_search_results(&mut self, query: &str, found: &results::Search) {
        let Some(bar) = self.search.as_mut() else {
            return;
        };
        if bar.asked.as_deref() != Some(query) {
            return; // an answer to a query since replaced
        }
        bar.pending = false;
        bar.hits = found.hits.iter().map(Hit::from_protocol).collect();
        bar.cursor = 0;
    }

    fn jump_to_hit(&mut self, effects: &mut Vec<Effect>) {
        let Some(bar) = self.search.take() else {
            return;
        };
        self.found = Some(Found {
            at: bar.cursor,
            hits: bar.hits,
        });
        self.selecting = true;
        self.show_found(effects);
    }

    /// n / N in selection mode after a jump: the next or previous found message.
    pub(super) fn step_found(&mut self, step: isize, effects: &mut Vec<Effect>) {
        let Some(found) = self.found.as_mut() else {
            return;
        };
        let count = found.hits.len() as isize;
        found.at = (found.at as isize + step).rem_euclid(count.max(1)) as usize;
        self.show_found(effects);
    }

    /// Opens the found message's conversation and brings the message into view.
    fn show_found(&mut self, effects: &mut Vec<Effect>) {
        let Some(hit) = self.found.as_ref().and_then(|f| f.hits.get(f.at)) else {
            return;
        };
        let (conversation_id, message_id) = (hit.conversation_id, hit.message_id);
        if self.selected != Some(conversation_id) {
            self.select(conversation_id, effects);
        }
        self.focus = Some((conversation_id, message_id));
        self.bring_focus_into_view(effects);
    }

    /// Scrolls to the focused message, or loads older history until it is there.
    pub(super) fn bring_focus_into_view(&mut self, effects: &mut Vec<Effect>) {
        let Some((conversation_id, message_id)) = self.focus else {
            return;
        };
        let page = self.page_lines();
        let Some(timeline) = self.timelines.get(&conversation_id) else {
            return;
        };
        if let Some(below) = self.pane(timeline).rows_below(message_id) {
            if let Some(timeline) = self.timelines.get_mut(&conversation_id) {
                // A third of the page under it: the message and what answered it.
                timeline.scroll = below.saturating_sub(page / 3);
            }
            return;
        }
        if timeline.loading || !timeline.loaded {
            return; // its history is on the way
        }
        if !timeline.has_more_before {
            self.focus = None;
            self.error("that message is no longer there");
            return;
        }
        let before = timeline.first_id();
        if let Some(timeline) = self.timelines.get_mut(&conversation_id) {
            timeline.loading = true;
        }
        effects.push(Effect::LoadHistory {
            conversation_id,
            before,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_starts_near_its_first_match_and_is_inert() {
        let text = "a long preamble that goes on and on before the word lunch\nand\x1b[31m lunch";
        let start = text.find("lunch").unwrap();
        let second = text.rfind("lunch").unwrap();
        let pieces = snippet(text, &[[start, start + 5], [second, second + 5]]);
        assert_eq!(pieces[0], ("… and on before the word ".into(), false));
        assert_eq!(pieces[1], ("lunch".into(), true));
        assert!(
            !pieces[2].0.contains('\x1b') && !pieces[2].0.contains('\n'),
            "{pieces:?}"
        );
        assert_eq!(pieces[3], ("lunch".into(), true));
        assert_eq!(snippet("short", &[[0, 99]]), [("short".to_owned(), false)]);
    }
}
