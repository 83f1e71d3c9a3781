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
    let columns = usize::from(area.width);
    let right = format!("{} help ", app.keymap.key_hint(Action::Help));
    // The help hint stays whenever it fits at all; the left gives way, by priority.
    let right = if width(&right) + 2 <= columns {
        right
    } else {
        String::new()
    };
    let room = columns.saturating_sub(width(&right) + usize::from(!right.is_empty()));
    let left = fit(parts(app), room);
    let gap = columns.saturating_sub(width(&left) + width(&right));
    let line = Line::from(vec![
        Span::raw(left),
        Span::raw(" ".repeat(gap)),
        Span::raw(right),
    ]);
    frame.render_widget(Paragraph::new(line).style(theme.status), area);
}

/// What the bar says, left to right, each with its priority: the lowest goes first when the
/// bar is too narrow (the link and what is queued last of all).
fn parts(app: &App) -> Vec<(u8, String)> {
    let user = app.me.as_ref().map_or("…", |me| me.username.as_str());
    let link = match &app.link {
        Link::Connecting => "○ connecting…".to_owned(),
        Link::Connected => "● connected".to_owned(),
        Link::Reconnecting { .. } => format!(
            "◌ reconnecting in {}s",
            app.reconnect_countdown().unwrap_or(0)
        ),
        Link::Refused(reason) => format!("✗ offline: session refused: {reason}; /login"),
        Link::Stopped(reason) => format!("✗ offline: {reason}"),
    };
    let mut parts = vec![(2, format!("{user} · {}", app.profile)), (9, link)];
    match app.selected_entry() {
        Some(entry) if entry.verified => parts.push((4, format!("{} verified", entry.sigil()))),
        Some(entry) if entry.secret => parts.push((4, format!("{} secret", entry.sigil()))),
        _ => {}
    }
    if !app.balances.is_empty() {
        let shown: Vec<String> = app.balances.iter().map(ToString::to_string).collect();
        parts.push((3, shown.join(" · ")));
    }
    match app.queued_count() {
        0 => {}
        n => parts.push((8, format!("{n} queued"))),
    }
    if let Some(who) = app.typing_here() {
        parts.push((1, format!("{who} is typing…")));
    }
    parts
}

/// The parts joined in `columns`: the lowest priority dropped while they do not fit, and what
/// is left still too wide cut with an ellipsis.
fn fit(mut parts: Vec<(u8, String)>, columns: usize) -> String {
    let joined = |parts: &[(u8, String)]| {
        let texts: Vec<&str> = parts.iter().map(|(_, text)| text.as_str()).collect();
        format!(" {}", texts.join(" │ "))
    };
    while parts.len() > 1 && width(&joined(&parts)) > columns {
        let lowest = (0..parts.len()).min_by_key(|&i| parts[i].0).unwrap_or(0);
        parts.remove(lowest);
    }
    crate::tui::text::truncate(&joined(&parts), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrow_bar_drops_the_least_first_and_cuts_with_an_ellipsis() {
        let parts = || {
            vec![
                (2, "alice · default".to_owned()),
                (9, "✗ offline: session refused: revoked; /login".to_owned()),
                (3, "€250.00".to_owned()),
                (8, "1 queued".to_owned()),
            ]
        };
        let wide = fit(parts(), 200);
        assert!(wide.contains("alice") && wide.contains("€250.00"), "{wide}");
        let narrower = fit(parts(), 60);
        assert_eq!(
            narrower,
            " ✗ offline: session refused: revoked; /login │ 1 queued"
        );
        let narrowest = fit(parts(), 30);
        assert!(
            narrowest.ends_with('…') && width(&narrowest) <= 30,
            "{narrowest}"
        );
        assert!(narrowest.contains("offline"), "the link stays: {narrowest}");
    }
}
