//! What `quid` shows when there is no config yet: what to do next.

use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use std::path::Path;

pub fn draw(frame: &mut Frame, config_path: &Path, theme: &Theme) {
    let lines = vec![
        Line::styled(
            "Welcome to quid: chat and pay from the terminal.",
            theme.accent,
        ),
        Line::raw(""),
        Line::styled(
            format!("There is no config at {} yet.", config_path.display()),
            theme.text,
        ),
        Line::raw(""),
        Line::styled("To look around first:", theme.text),
        Line::styled("    quid demo", theme.unread),
        Line::styled(
            "  starts a local server with people to talk to, already logged in.",
            theme.dim,
        ),
        Line::raw(""),
        Line::styled("To use your own server:", theme.text),
        Line::styled(
            "  1. quid config init --username NAME --server ws://HOST:7447",
            theme.dim,
        ),
        Line::styled("  2. quid register   (or quid login)", theme.dim),
        Line::styled("  3. quid", theme.dim),
        Line::raw(""),
        Line::styled("Press any key to leave.", theme.dim),
    ];
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(" quid ");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        frame.area(),
    );
}
