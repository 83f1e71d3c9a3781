//! The help overlay, generated from the live keymap and the slash-command table.

use crate::tui::keymap::Keymap;
use crate::tui::state::commands::COMMANDS;
use crate::tui::text::width;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, screen: Rect, keymap: &Keymap, theme: &Theme) {
    let rows = keymap.help_rows();
    let key_width = rows
        .iter()
        .map(|(keys, _)| width(keys))
        .chain(COMMANDS.iter().map(|(usage, _)| width(usage)))
        .max()
        .unwrap_or(0);
    let mut lines = vec![Line::styled("Keys", theme.accent)];
    for (keys, help) in &rows {
        lines.push(row(keys, help, key_width, theme));
    }
    // Room for a line per command, a blank line and the heading, inside the border?
    let detailed = lines.len() + COMMANDS.len() + 4 <= usize::from(screen.height);
    if detailed {
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Commands (type in the composer)",
        theme.accent,
    ));
    if detailed {
        for (usage, help) in COMMANDS {
            lines.push(row(usage, help, key_width, theme));
        }
    } else {
        let usages: Vec<&str> = COMMANDS.iter().map(|(usage, _)| *usage).collect();
        let room = usize::from(screen.width).saturating_sub(4);
        for line in crate::tui::text::wrap(&usages.join(" · "), room) {
            lines.push(Line::styled(format!(" {line}"), theme.unread));
        }
    }
    let wanted_width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 4;
    let area = centred(screen, wanted_width, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(" quid help · any key closes ");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn row<'a>(keys: &str, help: &'a str, key_width: usize, theme: &Theme) -> Line<'a> {
    let pad = " ".repeat(key_width.saturating_sub(width(keys)) + 2);
    Line::from(vec![
        Span::styled(format!(" {keys}{pad}"), theme.unread),
        Span::styled(help, theme.text),
    ])
}

fn centred(screen: Rect, wanted_width: u16, wanted_height: u16) -> Rect {
    let width = wanted_width.min(screen.width);
    let height = wanted_height.min(screen.height);
    Rect {
        x: screen.x + (screen.width - width) / 2,
        y: screen.y + (screen.height - height) / 2,
        width,
        height,
    }
}
