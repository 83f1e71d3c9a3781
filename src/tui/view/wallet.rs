//! The wallet view: balances, spending per day or week as a bar chart, and the statement,
//! filtered as you type.

use crate::protocol::funding::FundingStatus;
use crate::tui::keymap::Action;
use crate::tui::state::App;
use crate::tui::state::FUNDINGS_SHOWN;
use crate::tui::state::wallet::{Period, Wallet};
use crate::tui::text::width;
use crate::tui::theme::Theme;
use chrono::{DateTime, FixedOffset};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Clear, Paragraph};

/// Rows the chart gets when the screen has them.
const CHART_ROWS: u16 = 8;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, wallet: &Wallet, theme: &Theme) {
    frame.render_widget(Clear, area);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(format!(
            " Wallet · type to filter · {} days/weeks · {} export CSV · {} close ",
            app.keymap.key_hint(Action::Period),
            app.keymap.key_hint(Action::Export),
            app.keymap.key_hint(Action::CloseWallet)
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let chart_rows = if inner.height >= CHART_ROWS + 6 {
        CHART_ROWS
    } else {
        0
    };
    let fundings = app.fundings.len().min(FUNDINGS_SHOWN) as u16;
    let [balances, moves, chart, filter, list] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(fundings),
        Constraint::Length(chart_rows),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let shown: Vec<String> = app.balances.iter().map(ToString::to_string).collect();
    let balance_text = if shown.is_empty() {
        "no money yet".to_owned()
    } else {
        shown.join(" · ")
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" Balance ", theme.dim),
            Span::styled(balance_text, theme.accent),
        ])),
        balances,
    );
    draw_fundings(frame, moves, app, theme);
    if chart_rows > 0 {
        draw_chart(frame, chart, app, wallet, theme);
    }
    let note = wallet
        .note
        .as_deref()
        .map(|n| format!("   {n}"))
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" Filter ", theme.dim),
            Span::styled(format!("{}▏", wallet.filter), theme.text),
            Span::styled(note, theme.info),
        ])),
        filter,
    );
    draw_lines(frame, list, app, wallet, theme);
}

/// The newest top-ups and withdrawals, with their state: money on its way shows here before
/// the statement has it.
fn draw_fundings(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lines: Vec<Line> = app
        .fundings
        .iter()
        .take(FUNDINGS_SHOWN)
        .map(|funding| {
            let style = match funding.status {
                FundingStatus::Pending => theme.info,
                FundingStatus::Succeeded => theme.text,
                FundingStatus::Failed => theme.error,
            };
            Line::from(vec![
                Span::styled(" In/out  ", theme.dim),
                Span::styled(App::describe_funding(funding), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_chart(frame: &mut Frame, area: Rect, app: &App, wallet: &Wallet, theme: &Theme) {
    let currency = wallet
        .chart_currency()
        .unwrap_or_else(|| app.default_currency());
    let count = wallet.periods_for(area.width);
    let spending = wallet.spending(app.wall, app.utc_offset_secs, currency, count);
    let bars: Vec<Bar> = spending
        .iter()
        .map(|(label, money)| {
            Bar::with_label(
                label.clone(),
                u64::try_from(money.amount_minor).unwrap_or(0),
            )
            .text_value(if money.amount_minor == 0 {
                String::new()
            } else {
                money.to_string()
            })
        })
        .collect();
    let per = match wallet.period {
        Period::Days => "day",
        Period::Weeks => "week",
    };
    let nothing = if spending.iter().all(|(_, m)| m.amount_minor == 0) {
        format!("· nothing spent in the last {} {per}s ", spending.len())
    } else {
        String::new()
    };
    // The bars share the whole width, one column between them.
    let bar_width = ((area.width + 1) / spending.len().max(1) as u16)
        .saturating_sub(1)
        .max(3);
    let chart = BarChart::default()
        .block(
            Block::new()
                .title(format!(" Spent per {per} ({currency}) {nothing}"))
                .title_style(theme.dim),
        )
        .data(BarGroup::default().bars(&bars))
        .bar_width(bar_width)
        .bar_gap(1)
        .bar_style(theme.accent)
        .value_style(theme.selected)
        .label_style(theme.dim);
    frame.render_widget(chart, area);
}

fn draw_lines(frame: &mut Frame, area: Rect, app: &App, wallet: &Wallet, theme: &Theme) {
    if wallet.loading {
        frame.render_widget(Paragraph::new(Line::styled(" loading…", theme.dim)), area);
        return;
    }
    let visible = wallet.visible();
    if visible.is_empty() {
        let text = if wallet.lines.is_empty() {
            " no transactions yet"
        } else {
            " nothing matches the filter"
        };
        frame.render_widget(Paragraph::new(Line::styled(text, theme.dim)), area);
        return;
    }
    let offset = FixedOffset::east_opt(app.utc_offset_secs);
    let lines: Vec<Line> = visible
        .iter()
        .skip(wallet.scroll)
        .take(usize::from(area.height))
        .map(|line| {
            let when = offset
                .and_then(|o| {
                    DateTime::from_timestamp_millis(line.at.0).map(|t| t.with_timezone(&o))
                })
                .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string());
            let incoming = line.amount.amount_minor > 0;
            let amount = format!("{}{}", if incoming { "+" } else { "" }, line.amount);
            let who = match &line.counterparty {
                None => line.kind.unnamed_side().to_owned(),
                Some(user) if incoming => format!("from {}", user.username),
                Some(user) => format!("to {}", user.username),
            };
            let pad = |text: &str, columns: usize| {
                format!("{text}{}", " ".repeat(columns.saturating_sub(width(text))))
            };
            Line::from(vec![
                Span::styled(format!(" {when}  "), theme.dim),
                Span::styled(
                    format!("{:>12}  ", amount),
                    if incoming { theme.info } else { theme.text },
                ),
                Span::styled(pad(&who, 18), theme.text),
                Span::styled(
                    format!("{:>12}  ", line.balance_after.to_string()),
                    theme.dim,
                ),
                Span::styled(line.memo.clone(), theme.dim),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}
