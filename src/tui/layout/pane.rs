//! The message pane's rows: what each screen row of the pane holds, built from the newest
//! message backwards and only until the pane (plus the scroll offset) is full, so laying out
//! costs what is visible, not the history. The state uses it to scroll (how many rows a page
//! is, where a message is) and the view to draw, so the two never disagree.

use super::cards::{CardKeys, card_lines};
use crate::protocol::MessageId;
use crate::tui::text::{truncate, wrap};
use crate::tui::timeline::{Delivery, Entry, Pick, QuoteView, Timeline};
use chrono::{DateTime, FixedOffset};

/// Columns before the text: "HH:MM ".
pub const TIME_COLUMNS: usize = 6;
/// Columns kept free after one's own messages for the delivery mark.
const MARK_COLUMNS: usize = 3;

/// What the pane shows and for whom.
pub struct Pane<'a> {
    pub timeline: &'a Timeline,
    pub width: usize,
    pub utc_offset_secs: i32,
    /// The viewer's username: cards read "you paid", "asks you".
    pub me: &'a str,
    pub picked: Option<Pick>,
    /// The message jumped to from search, highlighted.
    pub focus: Option<MessageId>,
    /// The keys cards name in their hints.
    pub card_keys: CardKeys,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    Text,
    Card,
    Picked,
    /// A quote, a tombstone, reactions: said quietly.
    Quiet,
    /// Mentions the viewer.
    Mention,
}

/// One screen row of the pane.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Day(String),
    NewMarker,
    /// `time` and `sender` are on an entry's first row only; `mark` on one's own last row.
    Text {
        time: Option<String>,
        sender: Option<String>,
        text: String,
        mark: Option<Delivery>,
        look: Look,
    },
    Top(&'static str),
}

fn local(entry: &Entry, utc_offset_secs: i32) -> Option<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(utc_offset_secs)?;
    DateTime::from_timestamp_millis(entry.sent_at.0).map(|t| t.with_timezone(&offset))
}

impl Pane<'_> {
    /// The rows of `entries[index]`, separator and marker included, top to bottom.
    fn entry_rows(&self, index: usize) -> Vec<Row> {
        let timeline = self.timeline;
        let entry = &timeline.entries[index];
        // A queued message has no server time yet: it shows none, and starts no new day.
        let when = entry.id.and_then(|_| local(entry, self.utc_offset_secs));
        let mut rows = Vec::new();
        let previous_day = index
            .checked_sub(1)
            .and_then(|i| local(&timeline.entries[i], self.utc_offset_secs))
            .map(|t| t.date_naive());
        if let Some(when) = when
            && previous_day != Some(when.date_naive())
        {
            rows.push(Row::Day(when.format("%A %-d %B %Y").to_string()));
        }
        if entry.id.is_some() && entry.id == timeline.new_marker {
            rows.push(Row::NewMarker);
        }
        let focused = entry.id.is_some() && entry.id == self.focus;
        if let Some(quote) = &entry.reply {
            rows.push(self.quote_row(quote, focused));
        }
        let (paragraphs, look) = self.paragraphs(entry);
        let look = if focused { Look::Picked } else { look };
        let reserve = TIME_COLUMNS + if entry.mine { MARK_COLUMNS } else { 0 };
        let name_prefix = format!("{}:", entry.sender);
        let mut lines = Vec::new();
        for (n, paragraph) in paragraphs.iter().enumerate() {
            let paragraph = if n == 0 {
                format!("{name_prefix} {paragraph}")
            } else {
                paragraph.clone()
            };
            lines.extend(wrap(&paragraph, self.width.saturating_sub(reserve)));
        }
        let last = lines.len() - 1;
        for (n, line) in lines.into_iter().enumerate() {
            let (sender, text) = match line.strip_prefix(&name_prefix) {
                Some(rest) if n == 0 => (Some(entry.sender.clone()), rest.to_owned()),
                _ => (None, line),
            };
            rows.push(Row::Text {
                time: (n == 0)
                    .then(|| when.map_or_else(String::new, |t| t.format("%H:%M").to_string())),
                sender,
                text,
                mark: (n == last && entry.mine && entry.card.is_none() && !entry.deleted)
                    .then(|| timeline.delivery(entry)),
                look,
            });
        }
        if !entry.reactions.is_empty() {
            rows.push(Row::Text {
                time: Some(String::new()),
                sender: None,
                text: reactions_line(entry, focused),
                mark: None,
                look: Look::Quiet,
            });
        }
        rows
    }

    /// The line quoting the message `entry` replies to.
    fn quote_row(&self, quote: &QuoteView, focused: bool) -> Row {
        let quoted = match quote.deleted {
            true => "message deleted".to_owned(),
            false => quote.text.clone(),
        };
        let line = truncate(
            &format!("↳ {}: {quoted}", quote.sender),
            self.width.saturating_sub(TIME_COLUMNS),
        );
        Row::Text {
            time: Some(String::new()),
            sender: None,
            text: line,
            mark: None,
            look: if focused { Look::Picked } else { Look::Quiet },
        }
    }

    /// What `entry` says, a paragraph each, and how it looks (before focus is applied).
    fn paragraphs(&self, entry: &Entry) -> (Vec<String>, Look) {
        match &entry.card {
            Some(card) => {
                let picked = entry.pick().is_some() && entry.pick() == self.picked;
                (
                    card_lines(card, self.me, picked, &self.card_keys),
                    if picked { Look::Picked } else { Look::Card },
                )
            }
            None if entry.deleted => (vec!["message deleted".to_owned()], Look::Quiet),
            None if entry.unreadable.is_some() => {
                let why = entry.unreadable.as_deref().unwrap_or_default();
                (vec![format!("🔒 cannot be read here: {why}")], Look::Quiet)
            }
            None if entry.file.is_some() => (file_paragraphs(entry), Look::Text),
            None if entry.edited => (vec![format!("{} (edited)", entry.text)], Look::Text),
            None if entry.mentions_me => (vec![entry.text.clone()], Look::Mention),
            None if entry.expires_at.is_some() => (vec![format!("⏱ {}", entry.text)], Look::Text),
            None => (vec![entry.text.clone()], Look::Text),
        }
    }

    /// The newest rows, at least `wanted` of them if the timeline has that many, top to bottom.
    pub fn newest_rows(&self, wanted: usize) -> Vec<Row> {
        let mut chunks = Vec::new();
        let mut count = 0;
        for index in (0..self.timeline.entries.len()).rev() {
            let rows = self.entry_rows(index);
            count += rows.len();
            chunks.push(rows);
            if count >= wanted {
                break;
            }
        }
        if count < wanted {
            chunks.push(vec![top_row(self.timeline)]);
        }
        chunks.into_iter().rev().flatten().collect()
    }

    /// How many rows the messages after message `id` take (where the pane's bottom is when
    /// that message's last row is the pane's last), or `None` when the timeline lacks it.
    pub fn rows_below(&self, id: MessageId) -> Option<usize> {
        let mut below = 0;
        for index in (0..self.timeline.entries.len()).rev() {
            if self.timeline.entries[index].id == Some(id) {
                return Some(below);
            }
            below += self.entry_rows(index).len();
        }
        None
    }

    /// How many rows the newest messages take, counting no further than `limit`.
    pub fn count_lines(&self, limit: usize) -> usize {
        self.newest_rows(limit).len().min(limit)
    }
}

/// A file's card, `📎 bill.jpg · 210 KB · image/jpeg` (its name inert), then its caption.
fn file_paragraphs(entry: &Entry) -> Vec<String> {
    let mut paragraphs = Vec::new();
    if let Some(file) = &entry.file {
        paragraphs.push(format!(
            "📎 {} · {} · {}",
            crate::untrusted::inert_line(&file.name),
            crate::protocol::files::human_size(file.size),
            crate::untrusted::inert_line(&file.media_type)
        ));
    }
    match (entry.text.is_empty(), entry.edited) {
        (true, _) => {}
        (false, true) => paragraphs.push(format!("{} (edited)", entry.text)),
        (false, false) => paragraphs.push(entry.text.clone()),
    }
    paragraphs
}

/// "👍 alice, bob  ❤️ 5" under a message: who reacted while they are few, else how many; all
/// of them when the message is selected. The same live and after a restart: it is drawn from
/// the message's reactions as the server keeps them, never from who was watching.
fn reactions_line(entry: &Entry, focused: bool) -> String {
    let parts: Vec<String> = entry
        .reactions
        .iter()
        .map(
            |(emoji, users)| match focused || users.len() <= FEW_REACTORS {
                true => format!("{emoji} {}", users.join(", ")),
                false => format!("{emoji} {}", users.len()),
            },
        )
        .collect();
    parts.join("  ")
}

/// Up to this many who reacted with one emoji are named under an unselected message.
const FEW_REACTORS: usize = 3;

fn top_row(timeline: &Timeline) -> Row {
    if timeline.loading {
        Row::Top("loading older messages…")
    } else if timeline.has_more_before {
        Row::Top("PgUp for older messages")
    } else if timeline.entries.is_empty() {
        Row::Top("no messages yet: say hello")
    } else {
        Row::Top("beginning of the conversation")
    }
}
