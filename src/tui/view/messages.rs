//! Draws the message pane from its laid-out rows (`layout::pane`), one row at a time.

use crate::tui::layout::pane::{Look, Pane, Row, TIME_COLUMNS};
use crate::tui::text::width;
use crate::tui::theme::Theme;
use crate::tui::timeline::Delivery;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

pub fn draw(pane: &Pane, frame: &mut Frame, area: Rect, theme: &Theme) {
    let timeline = pane.timeline;
    let height = usize::from(area.height);
    let rows = pane.newest_rows(timeline.scroll + height);
    let end = rows.len().saturating_sub(timeline.scroll);
    let start = end.saturating_sub(height);
    let mut lines: Vec<Line> = rows[start..end]
        .iter()
        .map(|row| render_row(row, pane.width, theme))
        .collect();
    if timeline.scroll > 0
        && let Some(last) = lines.last_mut()
    {
        // Scrolled up: the bottom row says so, and counts what arrived meanwhile.
        let label = match timeline.unseen_below {
            0 => "↓ more below (End)".to_owned(),
            n => format!("↓ {n} new below (End)"),
        };
        *last = centred_rule(&label, pane.width, theme.unread);
    }
    // Short conversations sit at the bottom, next to the composer, as in every chat client.
    let padding = height.saturating_sub(lines.len());
    let area = Rect {
        y: area.y + padding as u16,
        height: area.height - padding as u16,
        ..area
    };
    // Rows are drawn one by one: they are cut to the pane already, and a `Paragraph` over
    // them made a 300x100 frame 1.3x slower (it lays every line out again).
    let buffer = frame.buffer_mut();
    for (row, line) in (area.y..area.bottom()).zip(&lines) {
        buffer.set_line(area.x, row, line, area.width);
    }
}

fn render_row<'a>(row: &'a Row, pane_width: usize, theme: &Theme) -> Line<'a> {
    match row {
        Row::Day(day) => centred_rule(day, pane_width, theme.dim),
        Row::NewMarker => centred_rule("new messages", pane_width, theme.new_marker),
        Row::Top(text) => Line::styled(format!("  {text}"), theme.dim),
        Row::Text {
            time,
            sender,
            text,
            mark,
            look,
        } => {
            let mut spans = vec![Span::styled(
                time.as_ref()
                    .map_or_else(|| " ".repeat(TIME_COLUMNS), |t| format!("{t:<5} ")),
                theme.dim,
            )];
            if let Some(sender) = sender {
                spans.push(Span::styled(sender.as_str(), theme.name_style(sender)));
                spans.push(Span::styled(":", theme.dim));
            }
            let style = match look {
                Look::Text => theme.text,
                Look::Card => theme.accent,
                Look::Picked => theme.selected,
                Look::Quiet => theme.dim,
                Look::Mention => theme.unread,
            };
            spans.push(Span::styled(text.as_str(), style));
            if let Some(mark) = mark {
                let (symbol, style) = match mark {
                    Delivery::Queued => (" …", theme.dim),
                    Delivery::Sent => (" ✓", theme.dim),
                    Delivery::Read => (" ✓✓", theme.info),
                };
                spans.push(Span::styled(symbol, style));
            }
            Line::from(spans)
        }
    }
}

fn centred_rule(label: &str, pane_width: usize, style: Style) -> Line<'static> {
    let label = format!(" {label} ");
    let side = pane_width.saturating_sub(width(&label)) / 2;
    Line::styled(
        format!("{}{label}{}", "─".repeat(side), "─".repeat(side)),
        style,
    )
}
