//! The money modal: pay someone, ask someone, or pay a request, in steps. Each step is one
//! question; Enter goes on, Esc goes back, and nothing is sent before the review is confirmed.
//! The idempotency key is made when the modal opens, so retrying after an error can never pay
//! twice.

use crate::money::{Currency, Money};
use crate::protocol::ConversationId;
use crate::protocol::payments::{IdempotencyKey, InvoiceId, PaymentRequestId};
use crate::tui::keymap::Action;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModalKind {
    Pay,
    Request,
    /// Paying a request: recipient, amount and memo are the request's.
    PayRequest(PaymentRequestId),
    /// Paying a merchant's invoice: its lines are shown on the review.
    PayInvoice(InvoiceId),
    /// `/split`: a bill shared by every member of a group, reviewed before anyone is asked.
    Split,
    /// `/withdraw`: money to a bank account through the server's payment partner; the one
    /// candidate is the account (an IBAN, compact).
    Withdraw,
}

impl ModalKind {
    /// Kinds whose details are given, not typed: the modal opens on the review.
    fn starts_on_review(self) -> bool {
        matches!(
            self,
            ModalKind::PayRequest(_)
                | ModalKind::PayInvoice(_)
                | ModalKind::Split
                | ModalKind::Withdraw
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Recipient,
    Amount,
    Memo,
    Review,
    Pin,
    Sending,
    Receipt(String),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Modal {
    pub kind: ModalKind,
    pub step: Step,
    /// Where the money goes or is asked; `None` for a withdrawal, which goes to a bank.
    pub conversation_id: Option<ConversationId>,
    /// Who can be chosen (the other members); one entry in a direct conversation.
    pub candidates: Vec<String>,
    pub chosen: usize,
    pub amount_text: String,
    pub default_currency: Currency,
    pub memo: String,
    pub pin: String,
    /// What your wallet holds, for "balance after" and to stop a payment it cannot cover
    /// before the review; `None` until the server has said.
    pub held: Option<Vec<Money>>,
    /// A failure that trying again could mend (the connection, the server); not a refusal.
    pub can_retry: bool,
    pub key: IdempotencyKey,
    /// Set once the server said this account needs its PIN.
    pub needs_pin: bool,
    /// An invoice's lines, as shown on the review.
    pub items: Vec<String>,
}

/// What a key did to the modal.
#[derive(Debug, Clone, PartialEq)]
pub enum ModalOutcome {
    Stay,
    Close,
    /// Closed by a key that is not the modal's: the key goes on to what is beneath it (the
    /// composer), so that typing after a payment is not lost.
    CloseAndPass,
    /// Confirmed on review (or retried): send it.
    Submit,
}

pub const MAX_AMOUNT_CHARS: usize = 24;
pub const MAX_MEMO_CHARS: usize = crate::protocol::payments::MAX_MEMO_CHARS;

impl Modal {
    pub fn new(
        kind: ModalKind,
        conversation_id: ConversationId,
        candidates: Vec<String>,
        default_currency: Currency,
        key: IdempotencyKey,
    ) -> Modal {
        let step = first_step(kind, candidates.len());
        Modal {
            kind,
            step,
            conversation_id: Some(conversation_id),
            candidates,
            chosen: 0,
            amount_text: String::new(),
            default_currency,
            memo: String::new(),
            pin: String::new(),
            held: None,
            can_retry: true,
            key,
            needs_pin: false,
            items: Vec::new(),
        }
    }

    /// A withdrawal of `amount_text` to `account` (an IBAN, compact), opened on its review.
    pub fn withdrawal(
        amount_text: String,
        account: String,
        default_currency: Currency,
        key: IdempotencyKey,
    ) -> Modal {
        let mut modal = Modal::new(
            ModalKind::Withdraw,
            ConversationId(0),
            vec![account],
            default_currency,
            key,
        );
        modal.conversation_id = None;
        modal.amount_text = amount_text;
        modal
    }

    pub fn recipient(&self) -> &str {
        self.candidates.get(self.chosen).map_or("", String::as_str)
    }

    /// The amount as typed, checked: exact, positive, in a known currency.
    pub fn amount(&self) -> Result<Money, String> {
        if self.amount_text.trim().is_empty() {
            return Err(format!(
                "type an amount, like 12.50 (in {})",
                self.default_currency
            ));
        }
        Money::parse_with_currency(&self.amount_text, Some(self.default_currency))
            .map_err(|e| e.to_string())
    }

    /// A split's parts, yours first: who pays what of the total.
    pub fn split_shares(&self) -> Option<Vec<(&str, Money)>> {
        let parts = self.amount().ok()?.shares(self.candidates.len() + 1)?;
        let people = std::iter::once("you").chain(self.candidates.iter().map(String::as_str));
        Some(people.zip(parts).collect())
    }

    /// Your balance in `currency`: zero when the wallet holds none of it, `None` when unknown.
    fn balance_in(&self, currency: Currency) -> Option<Money> {
        let held = self.held.as_ref()?;
        let balance = held.iter().find(|b| b.currency == currency);
        Some(balance.copied().unwrap_or(Money::new(0, currency)))
    }

    pub fn balance_after(&self) -> Option<Money> {
        let amount = self.amount().ok()?;
        let balance = self.balance_in(amount.currency)?;
        Some(Money::new(
            balance.amount_minor - amount.amount_minor,
            amount.currency,
        ))
    }

    /// Why the wallet cannot pay this, when it is known that it cannot: said at the amount and
    /// on the review, so nobody confirms a payment bound to fail.
    pub fn shortfall(&self) -> Option<String> {
        if matches!(self.kind, ModalKind::Request | ModalKind::Split) {
            return None;
        }
        crate::money::shortfall(self.held.as_deref()?, self.amount().ok()?)
    }

    /// A key, with the action the keymap's modal scope gives it; a key without one types.
    pub fn on_key(&mut self, key: KeyEvent, action: Option<Action>) -> ModalOutcome {
        if action == Some(Action::Back) {
            return self.back();
        }
        let confirm = action == Some(Action::Confirm);
        match self.step.clone() {
            Step::Recipient => match action {
                Some(Action::ChoosePrevious) => self.chosen = self.chosen.saturating_sub(1),
                Some(Action::ChooseNext) => {
                    self.chosen = (self.chosen + 1).min(self.candidates.len().saturating_sub(1))
                }
                Some(Action::Confirm) if !self.candidates.is_empty() => self.step = Step::Amount,
                _ => {}
            },
            Step::Amount if confirm => {
                if self.amount().is_ok() && self.shortfall().is_none() {
                    self.step = Step::Memo;
                }
            }
            Step::Amount => edit(&mut self.amount_text, key, action, MAX_AMOUNT_CHARS),
            Step::Memo if confirm => self.step = Step::Review,
            Step::Memo => edit(&mut self.memo, key, action, MAX_MEMO_CHARS),
            Step::Review if confirm && self.shortfall().is_none() => return self.submit(),
            Step::Pin if confirm && !self.pin.is_empty() => return self.submit(),
            Step::Pin => match key.code {
                KeyCode::Char(c) if c.is_ascii_digit() => edit(&mut self.pin, key, action, 12),
                KeyCode::Backspace => edit(&mut self.pin, key, action, 12),
                _ => {}
            },
            Step::Receipt(_) if confirm => return ModalOutcome::Close,
            Step::Receipt(_) => return ModalOutcome::CloseAndPass,
            // A retry keeps the idempotency key: at most one payment, ever.
            Step::Failed(_) if confirm && self.can_retry => return self.submit(),
            Step::Review | Step::Sending | Step::Failed(_) => {}
        }
        ModalOutcome::Stay
    }

    fn submit(&mut self) -> ModalOutcome {
        self.can_retry = true;
        if self.needs_pin && self.pin.is_empty() {
            self.step = Step::Pin;
            return ModalOutcome::Stay;
        }
        self.step = Step::Sending;
        ModalOutcome::Submit
    }

    /// Esc: one step back; out of the modal from the first step. Not while sending.
    fn back(&mut self) -> ModalOutcome {
        let first = first_step(self.kind, self.candidates.len());
        self.step = match &self.step {
            Step::Sending => return ModalOutcome::Stay,
            Step::Receipt(_) => return ModalOutcome::Close,
            step if *step == first => return ModalOutcome::Close,
            Step::Amount => Step::Recipient,
            Step::Memo => Step::Amount,
            Step::Review | Step::Failed(_) if self.kind.starts_on_review() => {
                return ModalOutcome::Close;
            }
            Step::Review | Step::Failed(_) => Step::Memo,
            Step::Pin => Step::Review,
            Step::Recipient => return ModalOutcome::Close,
        };
        ModalOutcome::Stay
    }
}

/// Where a modal of `kind` opens: the review when nothing is to be typed, the amount when
/// there is only one person to choose.
fn first_step(kind: ModalKind, candidates: usize) -> Step {
    match (kind.starts_on_review(), candidates) {
        (true, _) => Step::Review,
        (false, 1) => Step::Amount,
        (false, _) => Step::Recipient,
    }
}

/// Typing into a one-line field: characters, Backspace, and the clear-field key.
fn edit(field: &mut String, key: KeyEvent, action: Option<Action>, max_chars: usize) {
    if action == Some(Action::ClearField) {
        field.clear();
        return;
    }
    match key.code {
        KeyCode::Char(c)
            if !c.is_control()
                && !key.modifiers.contains(KeyModifiers::CONTROL)
                && field.chars().count() < max_chars =>
        {
            field.push(c);
        }
        KeyCode::Backspace => {
            field.pop();
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key pressed in the modal, with the default keymap.
    fn press(modal: &mut Modal, code: KeyCode) -> ModalOutcome {
        let key = KeyEvent::new(code, KeyModifiers::NONE);
        let action =
            crate::tui::keymap::Keymap::default().action_in(crate::tui::keymap::Scope::Modal, &key);
        modal.on_key(key, action)
    }

    fn typed(modal: &mut Modal, text: &str) {
        for c in text.chars() {
            press(modal, KeyCode::Char(c));
        }
    }

    fn test_key() -> IdempotencyKey {
        IdempotencyKey("a-test-key".into())
    }

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn a_payment_walks_through_its_steps_and_esc_backs_out() {
        let mut modal = Modal::new(
            ModalKind::Pay,
            ConversationId(1),
            vec!["bob".into(), "carol".into()],
            eur(),
            test_key(),
        );
        assert_eq!(modal.step, Step::Recipient);
        press(&mut modal, KeyCode::Down);
        assert_eq!(modal.recipient(), "carol");
        press(&mut modal, KeyCode::Enter);
        typed(&mut modal, "12.505");
        assert!(
            modal
                .amount()
                .unwrap_err()
                .contains("2 decimal places, not 3")
        );
        press(&mut modal, KeyCode::Enter);
        assert_eq!(modal.step, Step::Amount, "a bad amount does not go on");
        press(&mut modal, KeyCode::Backspace);
        assert_eq!(modal.amount().unwrap().to_string(), "€12.50");
        press(&mut modal, KeyCode::Enter);
        typed(&mut modal, "lunch");
        press(&mut modal, KeyCode::Enter);
        assert_eq!(modal.step, Step::Review);
        assert_eq!(press(&mut modal, KeyCode::Esc), ModalOutcome::Stay);
        assert_eq!(modal.step, Step::Memo);
        for step in [Step::Amount, Step::Recipient] {
            press(&mut modal, KeyCode::Esc);
            assert_eq!(modal.step, step);
        }
        assert_eq!(press(&mut modal, KeyCode::Esc), ModalOutcome::Close);
    }

    #[test]
    fn a_retry_after_an_error_keeps_the_idempotency_key() {
        let mut modal = Modal::new(
            ModalKind::Pay,
            ConversationId(1),
            vec!["bob".into()],
            eur(),
            test_key(),
        );
        assert_eq!(
            modal.step,
            Step::Amount,
            "a direct conversation needs no recipient step"
        );
        typed(&mut modal, "5");
        press(&mut modal, KeyCode::Enter);
        press(&mut modal, KeyCode::Enter);
        let key_before = modal.key.clone();
        assert_eq!(press(&mut modal, KeyCode::Enter), ModalOutcome::Submit);
        assert_eq!(modal.step, Step::Sending);
        assert_eq!(
            press(&mut modal, KeyCode::Esc),
            ModalOutcome::Stay,
            "no backing out while sending"
        );
        modal.step = Step::Failed("connection lost".into());
        assert_eq!(press(&mut modal, KeyCode::Enter), ModalOutcome::Submit);
        assert_eq!(modal.key, key_before);
    }

    #[test]
    fn a_pin_is_asked_for_once_the_server_wants_one() {
        let mut modal = Modal::new(
            ModalKind::PayRequest(PaymentRequestId(3)),
            ConversationId(1),
            vec!["bob".into()],
            eur(),
            test_key(),
        );
        assert_eq!(modal.step, Step::Review);
        modal.needs_pin = true;
        assert_eq!(press(&mut modal, KeyCode::Enter), ModalOutcome::Stay);
        assert_eq!(modal.step, Step::Pin);
        typed(&mut modal, "12a34");
        assert_eq!(modal.pin, "1234");
        assert_eq!(press(&mut modal, KeyCode::Enter), ModalOutcome::Submit);
    }
}
