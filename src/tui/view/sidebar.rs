//! The conversation list: most recent first, the selected one highlighted, unread badges.

use crate::tui::state::App;
use crate::tui::text::{truncate, width};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = Block::new().borders(Borders::RIGHT).border_style(theme.dim);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let columns = usize::from(inner.width);
    let mut lines = vec![Line::styled(" Conversations", theme.accent)];
    for entry in &app.conversations {
        let sigil = entry.sigil();
        let count = match entry.unread {
            0 => String::new(),
            n if n > 99 => " 99+".into(),
            n => format!(" {n}"),
        };
        // "3 · 1@": the mentions apart, since they are for you.
        let badge = match entry.mentions {
            0 => count,
            n => format!("{count} · {n}@"),
        };
        let room = columns.saturating_sub(2 + width(sigil) + width(&badge));
        let name = truncate(&entry.name, room);
        let gap = " ".repeat(room.saturating_sub(width(&name)));
        let selected = app.selected == Some(entry.id);
        let base = if selected { theme.selected } else { theme.text };
        let badge_style = if selected {
            theme.selected
        } else {
            theme.unread
        };
        let name_style = if selected {
            base
        } else if entry.unread > 0 && !entry.muted {
            theme.unread
        } else if entry.muted {
            theme.dim
        } else {
            base
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {sigil}"), if selected { base } else { theme.dim }),
            Span::styled(name, name_style),
            Span::styled(gap, base),
            Span::styled(badge, badge_style),
            Span::styled(" ", base),
        ]));
    }
    if app.conversations.is_empty() {
        lines.push(Line::styled(" (none yet)", theme.dim));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
