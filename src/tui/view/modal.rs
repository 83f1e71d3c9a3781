//! The money modal, one step at a time, over the chat.

use crate::protocol::funding::masked_account;
use crate::tui::keymap::{Action, Keymap};
use crate::tui::state::modal::{Modal, ModalKind, Step};
use crate::tui::text::{width, wrap};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

const WIDTH: u16 = 56;

pub fn draw(frame: &mut Frame, screen: Rect, modal: &Modal, keymap: &Keymap, theme: &Theme) {
    let title = match modal.kind {
        ModalKind::Pay => " Pay ",
        ModalKind::Request => " Ask for money ",
        ModalKind::PayRequest(_) => " Pay a request ",
        ModalKind::PayInvoice(_) => " Pay an invoice ",
        ModalKind::Split => " Split a bill ",
        ModalKind::Withdraw => " Withdraw to your bank ",
    };
    let mut lines = body(modal, theme);
    lines.push(Line::raw(""));
    lines.push(Line::styled(hint(modal, keymap), theme.dim));
    draw_box(frame, screen, title, lines, theme);
}

/// A box of `WIDTH` (or the screen's) in the middle of `screen`, as high as its lines wrap
/// to, over what is beneath.
pub(super) fn draw_box(
    frame: &mut Frame,
    screen: Rect,
    title: &str,
    lines: Vec<Line<'_>>,
    theme: &Theme,
) {
    let width = WIDTH.min(screen.width);
    let lines = fitted(lines, usize::from(width.saturating_sub(2)));
    let rows: usize = lines
        .iter()
        .map(|line| {
            line.width()
                .div_ceil(usize::from(width.saturating_sub(2)).max(1))
                .max(1)
        })
        .sum();
    let height = u16::try_from(rows + 2)
        .unwrap_or(u16::MAX)
        .min(screen.height);
    let area = Rect {
        x: screen.x + (screen.width - width) / 2,
        y: screen.y + (screen.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, area);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(title);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The lines as the box shows them: a line of one style wider than the box goes on below,
/// indented under its own words (an error's under the error, not against the border), so the
/// box's height counts every row and the hint at the bottom is never cut.
fn fitted(lines: Vec<Line<'_>>, inner: usize) -> Vec<Line<'_>> {
    let mut fitted = Vec::new();
    for line in lines {
        if line.width() <= inner || line.spans.len() != 1 {
            fitted.push(line);
            continue;
        }
        let (line_style, span_style) = (line.style, line.spans[0].style);
        let text = line.spans[0].content.to_string();
        let words = text.trim_start();
        let marker = if words.starts_with("✗ ") {
            "✗ "
        } else {
            ""
        };
        let lead = &text[..text.len() - words.len()];
        let indent = width(lead) + width(marker);
        let body = &words[marker.len()..];
        for (n, part) in wrap(body, inner.saturating_sub(indent))
            .into_iter()
            .enumerate()
        {
            let prefix = match n {
                0 => format!("{lead}{marker}"),
                _ => " ".repeat(indent),
            };
            fitted.push(Line::from(Span::styled(prefix + &part, span_style)).style(line_style));
        }
    }
    fitted
}

fn field<'a>(label: &'a str, value: String, theme: &Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!(" {label:<12}"), theme.dim),
        Span::styled(value, theme.text),
    ])
}

fn body<'a>(modal: &'a Modal, theme: &Theme) -> Vec<Line<'a>> {
    let verb = if modal.kind == ModalKind::Request {
        "From"
    } else {
        "To"
    };
    match &modal.step {
        Step::Recipient => {
            let mut lines = vec![Line::styled(format!(" {verb} whom?"), theme.accent)];
            for (index, name) in modal.candidates.iter().enumerate() {
                let style = if index == modal.chosen {
                    theme.selected
                } else {
                    theme.text
                };
                lines.push(Line::styled(format!("   {name} "), style));
            }
            lines
        }
        Step::Amount => {
            let preview = match (modal.amount(), modal.shortfall()) {
                (Ok(_), Some(shortfall)) => Line::styled(format!(" ✗ {shortfall}"), theme.error),
                (Ok(amount), None) => Line::styled(format!(" = {amount}"), theme.info),
                (Err(error), _) if modal.amount_text.is_empty() => {
                    Line::styled(format!(" {error}"), theme.dim)
                }
                (Err(error), _) => Line::styled(format!(" ✗ {error}"), theme.error),
            };
            vec![
                field(verb, modal.recipient().to_owned(), theme),
                field("Amount", format!("{}▏", modal.amount_text), theme),
                preview,
            ]
        }
        Step::Memo => vec![
            field(verb, modal.recipient().to_owned(), theme),
            field("Amount", amount_text(modal), theme),
            field("Memo", format!("{}▏", modal.memo), theme),
        ],
        Step::Review | Step::Pin | Step::Sending | Step::Failed(_) => review(modal, theme, verb),
        Step::Receipt(text) => vec![Line::styled(format!(" ✓ {text}"), theme.info)],
    }
}

fn review<'a>(modal: &'a Modal, theme: &Theme, verb: &'a str) -> Vec<Line<'a>> {
    let mut lines = if modal.kind == ModalKind::Split {
        split_review(modal, theme)
    } else {
        payment_review(modal, theme, verb)
    };
    match &modal.step {
        Step::Pin => lines.push(field(
            "PIN",
            "•".repeat(modal.pin.chars().count()) + "▏",
            theme,
        )),
        Step::Sending => lines.push(Line::styled(" Sending…", theme.dim)),
        Step::Failed(error) => lines.push(Line::styled(format!(" ✗ {error}"), theme.error)),
        Step::Review => {
            if let Some(shortfall) = modal.shortfall() {
                lines.push(Line::styled(format!(" ✗ {shortfall}"), theme.error));
            }
        }
        _ => {}
    }
    lines
}

/// The total, then each person's part, yours first: what will be asked of whom.
fn split_review<'a>(modal: &'a Modal, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = vec![
        field("Total", amount_text(modal), theme),
        field("Memo", memo_text(modal), theme),
    ];
    let shares = modal.split_shares().unwrap_or_default();
    lines.push(field(
        "Shared by",
        format!("{} people, equally", shares.len()),
        theme,
    ));
    for (index, (who, part)) in shares.iter().enumerate() {
        let what = if index == 0 {
            "your share"
        } else {
            "asked for"
        };
        lines.push(field("", format!("{who:<14} {part:>10}  {what}"), theme));
    }
    lines
}

fn memo_text(modal: &Modal) -> String {
    if modal.memo.is_empty() {
        "—".into()
    } else {
        modal.memo.clone()
    }
}

fn payment_review<'a>(modal: &'a Modal, theme: &Theme, verb: &'a str) -> Vec<Line<'a>> {
    if modal.kind == ModalKind::Withdraw {
        return withdrawal_review(modal, theme);
    }
    let mut lines = vec![field(verb, modal.recipient().to_owned(), theme)];
    for item in &modal.items {
        lines.push(field("", item.clone(), theme));
    }
    lines.extend([
        field(
            if modal.items.is_empty() {
                "Amount"
            } else {
                "Total"
            },
            amount_text(modal),
            theme,
        ),
        field("Memo", memo_text(modal), theme),
    ]);
    if modal.kind != ModalKind::Request {
        let after = modal
            .balance_after()
            .map_or_else(|| "unknown".into(), |m| m.to_string());
        lines.push(field("Afterwards", format!("your balance {after}"), theme));
    }
    lines
}

/// Where the money goes (the account, mostly hidden), how much, and the balance after.
fn withdrawal_review<'a>(modal: &'a Modal, theme: &Theme) -> Vec<Line<'a>> {
    let after = modal
        .balance_after()
        .map_or_else(|| "unknown".into(), |m| m.to_string());
    vec![
        field("To", masked_account(modal.recipient()), theme),
        field("Amount", amount_text(modal), theme),
        field("Afterwards", format!("your balance {after}"), theme),
        Line::styled(" If the bank refuses it, the money comes back.", theme.dim),
    ]
}

fn amount_text(modal: &Modal) -> String {
    modal.amount().map_or_else(|e| e, |m| m.to_string())
}

/// The keys of this step, as bound: "Enter confirm · Esc back".
fn hint(modal: &Modal, keymap: &Keymap) -> String {
    let key = |action| keymap.key_hint(action);
    let (confirm, back) = (key(Action::Confirm), key(Action::Back));
    let stuck = match modal.step {
        Step::Review => modal.shortfall().is_some(),
        Step::Failed(_) => !modal.can_retry,
        _ => false,
    };
    if stuck {
        return format!(" {back} back to change it");
    }
    if modal.kind == ModalKind::Split && modal.step == Step::Review {
        return format!(" {confirm} ask them · {back} cancel");
    }
    match &modal.step {
        Step::Recipient => format!(
            " {} {} choose · {confirm} next · {back} cancel",
            key(Action::ChoosePrevious),
            key(Action::ChooseNext)
        ),
        Step::Amount => format!(" {confirm} next · {back} back (e.g. 12.50 or 12.50 USD)"),
        Step::Memo => format!(" {confirm} review · {back} back (a memo is optional)"),
        Step::Review | Step::Pin => format!(" {confirm} confirm · {back} back"),
        Step::Sending => " waiting for the server…".to_owned(),
        Step::Receipt(_) => format!(" {confirm} or {back} close"),
        Step::Failed(_) => format!(" {confirm} retry (never twice) · {back} back"),
    }
}
