//! The search bar (in the composer's place) and its results (in the message pane's).

use super::App;
use crate::tui::state::search::SearchBar;
use crate::tui::text::width;
use crate::tui::theme::Theme;
use chrono::{DateTime, FixedOffset};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn draw_bar(frame: &mut Frame, area: Rect, bar: &SearchBar, theme: &Theme) {
    let title = match bar.slash {
        true => " search (or a /command) ",
        false => " search every conversation ",
    };
    let block = Block::new()
        .borders(Borders::TOP | Borders::BOTTOM)
        .border_style(theme.accent)
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(&bar.input, inner);
}

/// The results, one line each: where, who, when, and the snippet with its matches marked.
pub fn draw_results(frame: &mut Frame, area: Rect, app: &App, bar: &SearchBar, theme: &Theme) {
    let mut lines = vec![Line::styled(heading(bar), theme.dim)];
    let visible = usize::from(area.height).saturating_sub(1).max(1);
    // Keep the cursor on screen: the list scrolls by whole pages.
    let first = bar.cursor / visible * visible;
    for (index, hit) in bar.hits.iter().enumerate().skip(first).take(visible) {
        let label = app
            .conversations
            .iter()
            .find(|c| c.id == hit.conversation_id)
            .map_or_else(|| "?".to_owned(), |c| c.label());
        let when = FixedOffset::east_opt(app.utc_offset_secs)
            .zip(DateTime::from_timestamp_millis(hit.sent_at.0))
            .map_or_else(String::new, |(offset, t)| {
                t.with_timezone(&offset).format("%d %b %H:%M").to_string()
            });
        let selected = index == bar.cursor;
        let base = if selected { theme.selected } else { theme.text };
        let mut spans = vec![
            Span::styled(if selected { "▶ " } else { "  " }, theme.accent),
            Span::styled(format!("{label} "), theme.accent),
            Span::styled(format!("{when} "), theme.dim),
            Span::styled(format!("{}: ", hit.sender), theme.name_style(&hit.sender)),
        ];
        let mut room =
            usize::from(area.width).saturating_sub(spans.iter().map(|s| width(&s.content)).sum());
        for (piece, matched) in &hit.snippet {
            if room == 0 {
                break;
            }
            let piece = crate::tui::text::truncate(piece, room);
            room = room.saturating_sub(width(&piece));
            let style = if *matched { theme.unread } else { base };
            spans.push(Span::styled(piece, style));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn heading(bar: &SearchBar) -> String {
    match (&bar.asked, bar.pending, bar.hits.len()) {
        (None, _, _) => "  type what to find, then Enter".to_owned(),
        (Some(_), true, _) => "  searching…".to_owned(),
        (Some(query), false, 0) => format!("  nothing matches {query:?}"),
        (Some(_), false, n) => {
            format!("  {n} found, best first · ↑↓ choose · Enter opens · then n / N · Esc closes")
        }
    }
}
