//! The status bar: who and where you are, the link to the server, what is waiting to be sent.

use crate::tui::keymap::Action;
use crate::tui::state::{App, Link};
use crate::tui::text::width;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let user = app.me.as_ref().map_or("…", |me| me.username.as_str());
    let link = match &app.link {
        Link::Connecting => "○ connecting…".to_owned(),
        Link::Connected => "● connected".to_owned(),
        Link::Reconnecting { .. } => format!(
            "◌ reconnecting in {}s",
            app.reconnect_countdown().unwrap_or(0)
        ),
        Link::Stopped(reason) => format!("✗ offline: {reason}"),
    };
    let mut parts = vec![format!("{user} · {}", app.profile), link];
    match app.selected_entry() {
        Some(entry) if entry.verified => parts.push(format!("{} verified", entry.sigil())),
        Some(entry) if entry.secret => parts.push(format!("{} secret", entry.sigil())),
        _ => {}
    }
    if !app.balances.is_empty() {
        let shown: Vec<String> = app.balances.iter().map(ToString::to_string).collect();
        parts.push(shown.join(" · "));
    }
    match app.queued_count() {
        0 => {}
        n => parts.push(format!("{n} queued")),
    }
    if let Some(who) = app.typing_here() {
        parts.push(format!("{who} is typing…"));
    }
    let columns = usize::from(area.width);
    let left = format!(" {}", parts.join(" │ "));
    let mut right = format!("{} help ", app.keymap.key_hint(Action::Help));
    // The help hint gives way first, and never touches what is on the left.
    if width(&left) + 2 + width(&right) > columns {
        right.clear();
    }
    let left = crate::tui::text::truncate(&left, columns);
    let gap = columns.saturating_sub(width(&left) + width(&right));
    let line = Line::from(vec![
        Span::raw(left),
        Span::raw(" ".repeat(gap)),
        Span::raw(right),
    ]);
    frame.render_widget(Paragraph::new(line).style(theme.status), area);
}
