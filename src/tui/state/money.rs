//! Money in the TUI's state: balances, the payment modal, and picking request cards.

use super::modal::{Modal, ModalKind, ModalOutcome, Step};
use super::wallet::{Period, Wallet};
use super::{App, Done, Effect, NoticeKind};
use crate::money::{Currency, Money};
use crate::protocol::payments::{IdempotencyKey, PaymentRequest};
use crate::protocol::{ClientMsgId, ConversationKind, ErrorCode};
use crate::tui::keymap::{Action, Scope};
use crate::tui::timeline::{CardView, Pick};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

impl App {
    /// The currency amounts default to: the one you hold most of, else euros.
    pub fn default_currency(&self) -> Currency {
        self.balances
            .iter()
            .max_by_key(|m| m.amount_minor)
            .map(|m| m.currency)
            .or_else(|| Currency::from_code("EUR").ok())
            .unwrap_or_else(|| Currency::all().next().expect("quid knows currencies"))
    }

    /// What the wallet holds, once the server has said.
    fn held(&self) -> Option<Vec<Money>> {
        self.balances_heard.then(|| self.balances.clone())
    }

    pub(super) fn open_modal(&mut self, kind: ModalKind) {
        let Some(entry) = self.selected_entry() else {
            self.error("pick a conversation first: money goes to someone in it");
            return;
        };
        let me = self.my_name().to_owned();
        let candidates: Vec<String> = entry
            .members
            .iter()
            .filter(|m| **m != me)
            .cloned()
            .collect();
        if candidates.is_empty() {
            self.error("nobody else is in this conversation");
            return;
        }
        let id = entry.id;
        let key = IdempotencyKey(self.ids.fresh().to_string());
        let mut modal = Modal::new(kind, id, candidates, self.default_currency(), key);
        modal.held = self.held();
        self.modal = Some(modal);
    }

    /// Whether the open modal pays or asks in a secret conversation.
    fn modal_is_secret(&self) -> bool {
        self.modal.as_ref().is_some_and(|modal| {
            self.conversations
                .iter()
                .any(|c| Some(c.id) == modal.conversation_id && c.secret)
        })
    }

    /// After a payment or request in a secret conversation, its memo goes to the other
    /// person sealed, as a message beside the card (the ledger kept only a reference).
    fn seal_memo(&mut self, effects: &mut Vec<Effect>) {
        if !self.modal_is_secret() {
            return;
        }
        let Some(modal) = self.modal.as_ref().filter(|m| !m.memo.is_empty()) else {
            return;
        };
        let Some(conversation_id) = modal.conversation_id else {
            return;
        };
        let other = modal.recipient().to_owned();
        let text = format!("memo: {}", modal.memo);
        // The message the card's reference names, so that either side can tell when it goes.
        let reference = crate::protocol::payments::sealed_memo_reference(&modal.key);
        let client_id = crate::protocol::payments::sealed_memo_client_id(&reference)
            .unwrap_or_else(|| ClientMsgId(self.ids.fresh()));
        self.queue_secret(conversation_id, other, (client_id, text), effects);
    }

    /// A key while the modal is open; false when it closed the modal without using the key,
    /// which then goes on to the layers beneath.
    pub(super) fn on_modal_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) -> bool {
        let action = self.keymap.action_in(Scope::Modal, &key);
        let secret = self.modal_is_secret();
        let Some(modal) = self.modal.as_mut() else {
            return false;
        };
        match modal.on_key(key, action) {
            ModalOutcome::Stay => {}
            ModalOutcome::Close => self.modal = None,
            ModalOutcome::CloseAndPass => {
                self.modal = None;
                return false;
            }
            ModalOutcome::Submit => {
                let pin = (!modal.pin.is_empty()).then(|| modal.pin.clone());
                // In a secret conversation the ledger gets a reference; the memo follows sealed,
                // to the devices checked before the money moves.
                let sealed = secret && !modal.memo.is_empty();
                let memo = match sealed {
                    true => crate::protocol::payments::sealed_memo_reference(&modal.key),
                    false => modal.memo.clone(),
                };
                let sealed_for = sealed.then(|| modal.recipient().to_owned());
                let conversation = modal.conversation_id;
                let effect = match (modal.kind, modal.amount(), conversation) {
                    (ModalKind::PayInvoice(invoice_id), ..) => Effect::PayInvoice {
                        invoice_id,
                        key: modal.key.clone(),
                        pin: pin.clone(),
                    },
                    (ModalKind::PayRequest(request_id), ..) => Effect::PayRequest {
                        request_id,
                        key: modal.key.clone(),
                        pin,
                    },
                    (ModalKind::Withdraw, Ok(amount), _) => Effect::Withdraw {
                        amount,
                        bank_account: modal.recipient().to_owned(),
                        key: modal.key.clone(),
                        pin,
                    },
                    (ModalKind::Pay, Ok(amount), Some(conversation_id)) => Effect::Pay {
                        to: modal.recipient().to_owned(),
                        amount,
                        memo,
                        conversation_id,
                        key: modal.key.clone(),
                        pin,
                        sealed_for,
                    },
                    (ModalKind::Split, Ok(amount), Some(conversation_id)) => Effect::Split {
                        conversation_id,
                        amount,
                        memo: modal.memo.clone(),
                        key: modal.key.clone(),
                    },
                    (ModalKind::Request, Ok(amount), Some(conversation_id)) => {
                        Effect::RequestMoney {
                            from: modal.recipient().to_owned(),
                            amount,
                            memo,
                            conversation_id,
                            key: modal.key.clone(),
                            sealed_for,
                        }
                    }
                    (_, Err(error), _) => {
                        modal.step = Step::Failed(error);
                        return true;
                    }
                    (ModalKind::Pay | ModalKind::Request | ModalKind::Split, Ok(_), None) => {
                        modal.step = Step::Failed("pick a conversation first".into());
                        return true;
                    }
                };
                effects.push(effect);
            }
        }
        true
    }

    /// Tab: the next open request or invoice card in this conversation, newest first, then none.
    pub(super) fn select_next_request(&mut self) {
        let Some(timeline) = self.selected_timeline() else {
            return;
        };
        let open = timeline.open_picks();
        if open.is_empty() {
            self.info("no open payment requests or invoices here");
            return;
        }
        let next = match self
            .picked
            .and_then(|pick| open.iter().position(|p| *p == pick))
        {
            Some(i) if i + 1 < open.len() => Some(open[i + 1]),
            Some(_) => None,
            None => Some(open[0]),
        };
        self.picked = next;
    }

    /// Keys while a card is picked. False: the key is not about the card.
    pub(super) fn on_request_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) -> bool {
        let Some(pick) = self.picked else {
            return false;
        };
        let Some(card) = self.open_card(pick) else {
            self.picked = None;
            return false;
        };
        let me = self.my_name().to_owned();
        let (asks_me, mine) = match &card {
            CardView::Request {
                requester, payer, ..
            } => (*payer == me, *requester == me),
            CardView::Invoice { buyer, .. } => (*buyer == me, *buyer != me),
            _ => (false, false),
        };
        let key_of = |action| self.keymap.key_hint(action);
        match (self.keymap.action_in(Scope::Card, &key), pick) {
            (Some(Action::LeaveCard), _) => self.picked = None,
            (Some(Action::NextCard), _) => self.select_next_request(),
            (Some(Action::PayCard), _) if asks_me => {
                self.open_payment_of(pick, &card);
                self.picked = None;
            }
            (Some(Action::DeclineCard), Pick::Request(id)) if asks_me => {
                effects.push(Effect::DeclineRequest(id));
                self.picked = None;
            }
            (Some(Action::CancelCard), Pick::Request(id)) if mine => {
                effects.push(Effect::CancelRequest(id));
                self.picked = None;
            }
            (Some(Action::PayCard | Action::DeclineCard | Action::CancelCard), _) => {
                let (pay, decline, cancel) = (
                    key_of(Action::PayCard),
                    key_of(Action::DeclineCard),
                    key_of(Action::CancelCard),
                );
                let hint = match (pick, asks_me) {
                    (Pick::Request(_), true) => format!("{pay} pays it, {decline} declines it"),
                    (Pick::Request(_), false) => format!("it is yours: {cancel} cancels it"),
                    (Pick::Invoice(_), true) => format!("{pay} pays it"),
                    (Pick::Invoice(_), false) => "the buyer pays it".to_owned(),
                };
                self.info(hint);
            }
            _ => {
                self.picked = None;
                return false;
            }
        }
        true
    }

    /// Opens the review step for paying a picked request or invoice.
    fn open_payment_of(&mut self, pick: Pick, card: &CardView) {
        let Some(conversation_id) = self.selected else {
            return;
        };
        let (kind, recipient, amount, memo, lines) = match (pick, card) {
            (
                Pick::Request(id),
                CardView::Request {
                    requester,
                    amount,
                    memo,
                    ..
                },
            ) => (
                ModalKind::PayRequest(id),
                requester.clone(),
                *amount,
                memo.clone(),
                Vec::new(),
            ),
            (Pick::Invoice(id), CardView::Invoice { lines, total, .. }) => {
                // The business's name when the bot has one, else the bot's username.
                let merchant = self
                    .selected_entry()
                    .map(|e| match e.bot.as_deref() {
                        Some(name) if !name.is_empty() => name.to_owned(),
                        _ => e.name.clone(),
                    })
                    .unwrap_or_default();
                let shown = crate::tui::text::invoice_lines(lines);
                (
                    ModalKind::PayInvoice(id),
                    merchant,
                    *total,
                    format!("invoice {id}"),
                    shown,
                )
            }
            _ => return,
        };
        let key = IdempotencyKey(self.ids.fresh().to_string());
        let mut modal = Modal::new(kind, conversation_id, vec![recipient], amount.currency, key);
        modal.amount_text = amount.decimal();
        modal.memo = memo;
        modal.items = lines;
        modal.held = self.held();
        self.modal = Some(modal);
    }

    /// The card `pick` names in this conversation, while it is open.
    fn open_card(&self, pick: Pick) -> Option<CardView> {
        let timeline = self.selected_timeline()?;
        if !timeline.open_picks().contains(&pick) {
            return None;
        }
        timeline
            .entries
            .iter()
            .find(|e| e.pick() == Some(pick))
            .and_then(|e| e.card.clone())
    }

    /// `/split AMOUNT [MEMO]`: the whole bill, shared by everyone here, you included; the
    /// review shows each part before anyone is asked.
    pub(super) fn split(&mut self, amount: &str, memo: String) {
        let Some(entry) = self.selected_entry() else {
            return;
        };
        if entry.kind != ConversationKind::Group {
            self.error("/split works in a group");
            return;
        }
        let people = entry.members.len();
        match Money::parse_with_currency(amount, Some(self.default_currency())) {
            Ok(total) if total.shares(people).is_none() => {
                self.error(format!(
                    "{total} is too little to split among {people} people"
                ));
            }
            Ok(_) => {
                self.open_modal(ModalKind::Split);
                if let Some(modal) = self.modal.as_mut() {
                    modal.amount_text = amount.to_owned();
                    modal.memo = memo;
                }
            }
            Err(error) => self.error(error.to_string()),
        }
    }

    pub(super) fn open_wallet(&mut self, effects: &mut Vec<Effect>) {
        self.wallet = Some(Wallet::loading());
        effects.push(Effect::LoadStatement);
        effects.push(Effect::LoadBalance);
        effects.push(Effect::LoadFundings);
    }

    /// Keys in the wallet view: type to filter, Tab for days or weeks, Ctrl+E to export.
    pub(super) fn on_wallet_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        if self.keymap.action_for(&key) == Some(Action::Quit) {
            effects.push(Effect::Quit);
            return;
        }
        let action = self.keymap.action_in(Scope::Wallet, &key);
        let Some(wallet) = self.wallet.as_mut() else {
            return;
        };
        let last = wallet.visible().len().saturating_sub(1);
        match action {
            Some(Action::CloseWallet) => self.wallet = None,
            Some(Action::Period) => {
                wallet.period = match wallet.period {
                    Period::Days => Period::Weeks,
                    Period::Weeks => Period::Days,
                }
            }
            Some(Action::Export) => {
                let lines = wallet.visible().into_iter().cloned().collect();
                effects.push(Effect::ExportStatement(lines));
                wallet.note = Some("exporting…".into());
            }
            Some(Action::WalletUp) => wallet.scroll = wallet.scroll.saturating_sub(1),
            Some(Action::WalletDown) => wallet.scroll = (wallet.scroll + 1).min(last),
            Some(Action::WalletPageUp) => wallet.scroll = wallet.scroll.saturating_sub(10),
            Some(Action::WalletPageDown) => wallet.scroll = (wallet.scroll + 10).min(last),
            _ => match key.code {
                KeyCode::Backspace => {
                    wallet.filter.pop();
                    wallet.scroll = 0;
                }
                KeyCode::Char(c)
                    if !key.modifiers.contains(KeyModifiers::CONTROL) && !c.is_control() =>
                {
                    wallet.filter.push(c);
                    wallet.scroll = 0;
                }
                _ => {}
            },
        }
    }

    /// Outcomes of money effects.
    pub(super) fn on_money_done(&mut self, done: Done, effects: &mut Vec<Effect>) {
        match done {
            Done::Balance(balances) => {
                self.balances = balances;
                self.balances_heard = true;
                if let Some(modal) = self.modal.as_mut() {
                    modal.held = Some(self.balances.clone());
                }
            }
            Done::Paid(paid) => {
                self.seal_memo(effects);
                if let Some(modal) = self.modal.as_mut() {
                    let to = crate::untrusted::inert_line(&paid.transfer.to.username);
                    modal.step = Step::Receipt(format!(
                        "Paid {} to {to}. Your balance: {}.",
                        paid.transfer.amount, paid.balance_after
                    ));
                }
                effects.push(Effect::LoadBalance);
            }
            Done::Requested(requests) => {
                self.seal_memo(effects);
                let text = asked(&requests);
                let conversation = requests.first().map(|r| r.conversation_id);
                match self.modal.as_mut() {
                    Some(modal) => modal.step = Step::Receipt(text),
                    None => self.notify_in(conversation, NoticeKind::Info, text),
                }
            }
            Done::RequestClosed(request) => {
                let text = format!("request {} is {}", request.id, request.status.as_str());
                self.notify_in(Some(request.conversation_id), NoticeKind::Info, text);
            }
            Done::MoneyFailed { code, message } => {
                let message = crate::untrusted::inert_line(&message);
                let Some(modal) = self.modal.as_mut() else {
                    self.error(message);
                    return;
                };
                match code {
                    ErrorCode::PinRequired => {
                        modal.needs_pin = true;
                        modal.step = Step::Pin;
                    }
                    ErrorCode::WrongPin => {
                        modal.needs_pin = true;
                        modal.pin.clear();
                        modal.step = Step::Failed("wrong PIN; Enter to type it again".into());
                    }
                    _ => {
                        // Only a failure of the way there may succeed when tried again.
                        modal.can_retry = code.is_transient();
                        modal.step = Step::Failed(message);
                    }
                }
            }
            _ => {}
        }
    }
}

/// "Asked bob for €5.00.", "Asked bob and carol for €10.00 each.", or each part when they differ.
fn asked(requests: &[PaymentRequest]) -> String {
    let name = |r: &PaymentRequest| crate::untrusted::inert_line(&r.payer.username);
    let names: Vec<String> = requests.iter().map(name).collect();
    match requests {
        [] => "Nobody else to ask.".to_owned(),
        [one] => format!("Asked {} for {}.", name(one), one.amount),
        [first, ..] if requests.iter().all(|r| r.amount == first.amount) => {
            format!("Asked {} for {} each.", and_list(&names), first.amount)
        }
        _ => {
            let parts: Vec<String> = requests
                .iter()
                .map(|r| format!("{} for {}", name(r), r.amount))
                .collect();
            format!("Asked {}.", and_list(&parts))
        }
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
