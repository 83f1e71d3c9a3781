//! The help overlay, generated from the live keymap and the slash-command table.

use crate::tui::keymap::{Keymap, Scope};
use crate::tui::state::commands::COMMANDS;
use crate::tui::text::width;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// Help, scrolled down `scroll` lines (as far as it goes) when it is taller than the screen.
pub fn draw(frame: &mut Frame, screen: Rect, keymap: &Keymap, scroll: u16, theme: &Theme) {
    let rows = keymap.help_rows(Scope::Chat);
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
    // The keys on a selected message, in short: "K, Up older · R reply · ...".
    lines.push(Line::styled("On a selected message", theme.accent));
    let selection: Vec<String> = keymap
        .help_rows(Scope::Selection)
        .iter()
        .map(|(keys, help)| {
            let gist = help.split(':').next().unwrap_or(help);
            format!("{keys} {gist}")
        })
        .collect();
    let room = usize::from(screen.width).saturating_sub(4);
    for line in crate::tui::text::wrap(&selection.join(" · "), room) {
        lines.push(Line::styled(format!(" {line}"), theme.unread));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Commands (type in the composer)",
        theme.accent,
    ));
    // Room for a line per command inside the border?
    let detailed = lines.len() + COMMANDS.len() + 2 <= usize::from(screen.height);
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
    let hidden = (lines.len() as u16 + 2).saturating_sub(area.height);
    let title = match hidden {
        0 => " quid help · any key closes ",
        _ => " quid help · ↑↓ PgUp PgDn scroll · any other key closes ",
    };
    frame.render_widget(Clear, area);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(title);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(hidden), 0)),
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
