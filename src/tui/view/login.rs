//! The password prompt that logs in again, over the chat.

use crate::tui::state::login::LogIn;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub fn draw(frame: &mut Frame, screen: Rect, form: &LogIn, username: &str, theme: &Theme) {
    let mut lines = vec![
        Line::styled(
            format!(" The server refused this session: {}.", form.reason),
            theme.text,
        ),
        Line::styled(
            " Messages you write meanwhile wait, queued, and go out once you are back.",
            theme.dim,
        ),
        Line::raw(""),
        Line::from(vec![
            Span::styled(format!(" Password for {username}: "), theme.dim),
            Span::styled("•".repeat(form.password.chars().count()), theme.text),
        ]),
    ];
    if let Some(error) = &form.error {
        lines.push(Line::styled(format!(" ✗ {error}"), theme.error));
    }
    lines.push(Line::raw(""));
    let hint = if form.waiting {
        " logging in…"
    } else {
        " Enter logs in · Esc later (/login)"
    };
    lines.push(Line::styled(hint, theme.dim));
    super::modal::draw_box(frame, screen, " Log in again ", lines, theme);
}
