//! How a payment or request card reads, from the viewer's side: "you paid", "asks you".

use crate::protocol::payments::{InvoiceStatus, RequestStatus};
use crate::tui::keymap::{Action, Keymap};
use crate::tui::timeline::CardView;

/// The keys a card's hints name, as the profile binds them ("Tab to pay", "Enter pays").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardKeys {
    pub pick: String,
    pub pay: String,
    pub decline: String,
    pub cancel: String,
    pub leave: String,
}

impl CardKeys {
    pub fn from(keymap: &Keymap) -> CardKeys {
        let key = |action| keymap.key_hint(action);
        CardKeys {
            pick: key(Action::SelectRequest),
            pay: key(Action::PayCard),
            decline: key(Action::DeclineCard),
            cancel: key(Action::CancelCard),
            leave: key(Action::LeaveCard),
        }
    }
}

/// The lines of a card, top to bottom. The first follows the sender's name, and the sender
/// is the one who acted (the payer of a payment, the requester of a request).
pub fn card_lines(card: &CardView, me: &str, picked: bool, keys: &CardKeys) -> Vec<String> {
    let who = |name: &str| {
        if name == me {
            "you".to_owned()
        } else {
            name.to_owned()
        }
    };
    match card {
        CardView::Payment {
            to, amount, memo, ..
        } => {
            let mut lines = vec![format!("▌ paid {} {amount}", who(to))];
            if !memo.is_empty() {
                lines.push(format!("▌ “{memo}”"));
            }
            lines
        }
        CardView::Request {
            requester,
            payer,
            amount,
            memo,
            status,
            ..
        } => {
            let mut lines = vec![format!("▌ asks {} for {amount}", who(payer))];
            if !memo.is_empty() {
                lines.push(format!("▌ “{memo}”"));
            }
            lines.push(format!(
                "▌ {}",
                status_line(*status, payer == me, requester == me, picked, keys)
            ));
            lines
        }
        CardView::Invoice {
            id,
            buyer,
            lines: items,
            total,
            status,
            refunded,
        } => {
            let mut lines = vec![format!("▌ invoice {id} for {}: {total}", who(buyer))];
            for line in crate::tui::text::invoice_lines(items) {
                lines.push(format!("▌   {line}"));
            }
            let state = match status {
                InvoiceStatus::Open if picked && buyer == me => {
                    format!("open · {} pays · {} leaves it", keys.pay, keys.leave)
                }
                InvoiceStatus::Open if buyer == me => format!("open · {} to pay", keys.pick),
                InvoiceStatus::Open => "open".to_owned(),
                InvoiceStatus::Paid if refunded.amount_minor > 0 => {
                    format!("paid ✓ · refunded {refunded}")
                }
                InvoiceStatus::Paid => "paid ✓".to_owned(),
                InvoiceStatus::Expired => "expired".to_owned(),
            };
            lines.push(format!("▌ {state}"));
            lines
        }
        CardView::Refund { amount, invoice_id } => {
            vec![format!("▌ refunded {amount} of invoice {invoice_id}")]
        }
    }
}

fn status_line(
    status: RequestStatus,
    asks_me: bool,
    mine: bool,
    picked: bool,
    keys: &CardKeys,
) -> String {
    let CardKeys {
        pick,
        pay,
        decline,
        cancel,
        leave,
    } = keys;
    match status {
        RequestStatus::Open if picked && asks_me => {
            format!("open · {pay} pays · {decline} declines · {leave} leaves it")
        }
        RequestStatus::Open if picked && mine => {
            format!("open · {cancel} cancels · {leave} leaves it")
        }
        RequestStatus::Open if asks_me => format!("open · {pick} to pay or decline"),
        RequestStatus::Open => "open".into(),
        RequestStatus::Paid => "paid ✓".into(),
        RequestStatus::Declined => "declined".into(),
        RequestStatus::Cancelled => "cancelled".into(),
        RequestStatus::Expired => "expired".into(),
    }
}
