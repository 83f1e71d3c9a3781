//! The help overlay: the search line, then the matching rows under their sections, scrolled.
//! The layout (widths, wrapping) is the state's, so scrolling stops where the list ends.

use crate::tui::keymap::Keymap;
use crate::tui::state::help::{CHROME_LINES, Help, HelpLine, TITLE};
use crate::tui::text::width;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn draw(frame: &mut Frame, screen: Rect, keymap: &Keymap, help: &Help, theme: &Theme) {
    let layout = help.layout(keymap, screen.width);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" Search ", theme.dim),
            Span::styled(format!("{}▏", help.filter), theme.text),
        ]),
        Line::raw(""),
    ];
    if layout.lines.is_empty() {
        lines.push(Line::styled(" nothing matches", theme.dim));
    }
    for line in &layout.lines {
        lines.push(match line {
            HelpLine::Section(title) => Line::styled(*title, theme.accent),
            HelpLine::Row { keys, text } => {
                let pad = " ".repeat(layout.key_width.saturating_sub(width(keys)) + 2);
                Line::from(vec![
                    Span::styled(format!(" {keys}{pad}"), theme.unread),
                    Span::styled(text.as_str(), theme.text),
                ])
            }
        });
    }
    let height = (layout.lines.len() + CHROME_LINES).max(CHROME_LINES + 1) as u16;
    let area = centred(screen, layout.width, height);
    frame.render_widget(Clear, area);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(TITLE);
    frame.render_widget(
        Paragraph::new(lines).block(block).scroll((help.scroll, 0)),
        area,
    );
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
