//! Drawing: takes the state by shared reference and only draws. One file per part.

pub mod first_run;
mod help;
mod login;
pub mod messages;
mod modal;
mod search;
mod sidebar;
mod status;
mod wallet;

use super::layout;
use super::state::verify::Comparing;
use super::state::{App, Layer, NoticeKind};
use super::theme::Theme;
use crate::protocol::ConversationKind;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let areas = layout::areas(
        frame.area(),
        app.composer.lines().len(),
        app.visible_notice().is_some(),
    );
    if let Some(sidebar) = areas.sidebar {
        sidebar::draw(frame, sidebar, app, theme);
    }
    draw_header(frame, areas.header, app, theme, areas.sidebar.is_none());
    match (&app.search, app.selected_timeline()) {
        (Some(bar), _) => search::draw_results(frame, areas.messages, app, bar, theme),
        (None, Some(timeline)) => messages::draw(&app.pane(timeline), frame, areas.messages, theme),
        (None, None) => draw_empty(frame, areas.messages, app, theme),
    }
    if let Some(comparing) = app
        .comparing
        .as_ref()
        .filter(|c| app.selected == Some(c.conversation_id))
    {
        draw_comparing(frame, areas.messages, comparing, theme);
    }
    if let Some(topup) = &app.following {
        draw_following(frame, areas.messages, topup, app.can_open_browser, theme);
    }
    if let (Some(area), Some(notice)) = (areas.notice, app.visible_notice()) {
        let (text, style) = match notice.kind {
            NoticeKind::Error => (format!(" ✗ {}", notice.text), theme.error),
            NoticeKind::Info => (format!(" {}", notice.text), theme.info),
        };
        let style = if notice.fading(app.now) {
            theme.dim
        } else {
            style
        };
        frame.render_widget(Paragraph::new(Line::styled(text, style)), area);
    }
    match &app.search {
        Some(bar) => search::draw_bar(frame, areas.composer, bar, theme),
        None => draw_composer(frame, areas.composer, app, theme),
    }
    status::draw(frame, areas.status, app, theme);
    for layer in app.layers().into_iter().rev() {
        draw_layer(frame, layer, app, theme);
    }
}

/// One layer over the chat. Search, selection and a picked card show in the pane itself.
fn draw_layer(frame: &mut Frame, layer: Layer, app: &App, theme: &Theme) {
    let screen = frame.area();
    match layer {
        Layer::Wallet => {
            if let Some(open) = &app.wallet {
                let area = Rect {
                    height: screen.height.saturating_sub(1),
                    ..screen
                };
                wallet::draw(frame, area, app, open, theme);
            }
        }
        Layer::Modal => {
            if let Some(open) = &app.modal {
                modal::draw(frame, screen, open, &app.keymap, theme);
            }
        }
        Layer::LogIn => {
            if let Some(open) = &app.login {
                login::draw(frame, screen, open, &app.username, theme);
            }
        }
        Layer::Help => {
            if let Some(open) = &app.help {
                help::draw(frame, screen, &app.keymap, open, theme);
            }
        }
        Layer::Search | Layer::Selection | Layer::Card => {}
    }
}

/// A verification's code, at the foot of the messages, with what to answer.
fn draw_comparing(frame: &mut Frame, area: Rect, comparing: &Comparing, theme: &Theme) {
    let lines = vec![
        Line::styled(
            format!(" Does {}'s screen show the same?", comparing.username),
            theme.accent,
        ),
        Line::styled(format!(" {}", comparing.emoji), theme.text),
        Line::styled(
            format!(" or the numbers {}", comparing.decimals),
            theme.text,
        ),
        Line::styled(
            " /verify yes if they match, /verify no if they do not",
            theme.dim,
        ),
    ];
    let height = (lines.len() as u16 + 2).min(area.height);
    let box_area = Rect {
        y: area.y + area.height.saturating_sub(height),
        height,
        ..area
    };
    let block = Block::bordered()
        .title(" Verify ")
        .border_style(theme.accent);
    frame.render_widget(ratatui::widgets::Clear, box_area);
    frame.render_widget(Paragraph::new(lines).block(block), box_area);
}

/// The top-up started here, at the top of the messages while it waits to be paid: where to
/// pay, so the address can be opened (or copied) from the screen.
fn draw_following(
    frame: &mut Frame,
    area: Rect,
    topup: &crate::protocol::funding::Funding,
    opened: bool,
    theme: &Theme,
) {
    let url = topup
        .checkout_url
        .as_deref()
        .map_or_else(String::new, crate::untrusted::inert_line);
    let how = if opened {
        " Opened in your browser; or open the address above."
    } else {
        " Open it in a browser (w3m works too) and pay; /copy-link copies it."
    };
    let lines = vec![
        Line::styled(format!(" Pay {} at:", topup.amount), theme.accent),
        Line::styled(format!(" {url}"), theme.text),
        Line::styled(how, theme.dim),
        Line::styled(
            " Waiting for the payment… the balance updates here.",
            theme.dim,
        ),
    ];
    // Rows once wrapped, so that a narrow pane still shows the last line.
    let inner = usize::from(area.width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = (rows as u16 + 2).min(area.height);
    let box_area = Rect { height, ..area };
    let block = Block::bordered()
        .title(" Top-up ")
        .border_style(theme.accent);
    frame.render_widget(ratatui::widgets::Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(ratatui::widgets::Wrap { trim: false }),
        box_area,
    );
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, narrow: bool) {
    let Some(entry) = app.selected_entry() else {
        frame.render_widget(Paragraph::new(Line::styled(" quid", theme.accent)), area);
        return;
    };
    let mut spans = Vec::new();
    if narrow {
        let position = app
            .conversations
            .iter()
            .position(|c| c.id == entry.id)
            .map_or(0, |p| p + 1);
        spans.push(Span::styled(
            format!(" {position}/{} ", app.conversations.len()),
            theme.dim,
        ));
        let unread_elsewhere: u32 = app
            .conversations
            .iter()
            .filter(|c| c.id != entry.id)
            .map(|c| c.unread)
            .sum();
        if unread_elsewhere > 0 {
            spans.push(Span::styled(
                format!("({unread_elsewhere} unread)"),
                theme.unread,
            ));
        }
    }
    spans.push(Span::styled(format!(" {}", entry.label()), theme.accent));
    match entry.bot.as_deref() {
        Some("") => spans.push(Span::styled("  bot", theme.dim)),
        Some(merchant) => spans.push(Span::styled(
            format!("  {merchant} · merchant bot"),
            theme.unread,
        )),
        None => {}
    }
    match (entry.secret, entry.verified) {
        (true, true) => spans.push(Span::styled(
            "  secret · end-to-end encrypted · verified",
            theme.dim,
        )),
        (true, false) => spans.push(Span::styled("  secret · end-to-end encrypted", theme.dim)),
        (false, _) => {}
    }
    if entry.kind == ConversationKind::Group {
        spans.push(Span::styled(
            format!("  {}", entry.members.join(", ")),
            theme.dim,
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_empty(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let text = if app.conversations.is_empty() {
        vec![
            Line::raw(""),
            Line::styled("  No conversations yet.", theme.text),
            Line::styled(
                "  /dm USER starts one; /group NAME USER... makes a group.",
                theme.dim,
            ),
            Line::styled(
                format!(
                    "  {} shows every key.",
                    app.keymap.key_hint(super::keymap::Action::Help)
                ),
                theme.dim,
            ),
        ]
    } else {
        vec![Line::styled("  Pick a conversation.", theme.dim)]
    };
    frame.render_widget(Paragraph::new(text), area);
}

fn draw_composer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    use super::state::input::Draft;
    let title = match (&app.draft, app.selected_entry()) {
        (Some(Draft::Reply(quote)), _) => crate::tui::text::truncate(
            &format!(" reply to {}: {} · Esc cancels ", quote.sender, quote.text),
            usize::from(area.width).saturating_sub(2),
        ),
        (Some(Draft::Edit(_)), _) => {
            " editing your message · Enter saves · Esc cancels ".to_owned()
        }
        (None, Some(entry)) => format!(" to {} ", entry.label()),
        (None, None) => " no conversation ".to_owned(),
    };
    let block = Block::new()
        .borders(Borders::TOP | Borders::BOTTOM)
        .border_style(theme.dim)
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(&app.composer, inner);
}

#[cfg(test)]
pub(crate) mod tests;
