//! Money in and out through the server's payment partner: `/topup` (F5) shows the checkout
//! page and follows the top-up until it settles; `/withdraw` opens the money modal on its
//! review (the PIN asked there as for a payment); the wallet lists both with their state.

use super::modal::{Modal, ModalKind, Step};
use super::{App, Effect, NoticeKind};
use crate::money::Money;
use crate::protocol::funding::{
    Funding, FundingKind, FundingStatus, normalize_iban, validate_checkout_url,
};
use crate::protocol::payments::IdempotencyKey;
use crate::untrusted::inert_line;

/// Top-ups and withdrawals the wallet shows.
pub const FUNDINGS_SHOWN: usize = 3;

impl App {
    /// `/topup AMOUNT [CURRENCY]`.
    pub(super) fn topup(&mut self, amount: &str, effects: &mut Vec<Effect>) {
        match Money::parse_with_currency(amount, Some(self.default_currency())) {
            Ok(amount) => {
                let key = IdempotencyKey(self.ids.fresh().to_string());
                effects.push(Effect::Topup { amount, key });
                self.notify_in(
                    None,
                    NoticeKind::Info,
                    format!("asking for a top-up of {amount}…"),
                );
            }
            Err(error) => self.error(format!("/topup: {error}")),
        }
    }

    /// `/withdraw AMOUNT [CURRENCY] [IBAN]`: the modal's review, or why not.
    pub(super) fn withdraw(&mut self, amount: &str, account: Option<String>) {
        let Some(account) = account.or_else(|| self.bank_account.clone()) else {
            self.error("/withdraw needs a bank account: /withdraw AMOUNT IBAN, or bank_account in the profile");
            return;
        };
        let account = match normalize_iban(&account) {
            Ok(account) => account,
            Err(error) => return self.error(format!("/withdraw: {error}")),
        };
        if let Err(error) = Money::parse_with_currency(amount, Some(self.default_currency())) {
            return self.error(format!("/withdraw: {error}"));
        }
        let key = IdempotencyKey(self.ids.fresh().to_string());
        let mut modal = Modal::withdrawal(amount.to_owned(), account, self.default_currency(), key);
        modal.held = self.balances_heard.then(|| self.balances.clone());
        self.modal = Some(modal);
    }

    /// The partner made the top-up: show where to pay, and follow it. The page opens in the
    /// browser where one can appear (the user asked for it with /topup); elsewhere the box
    /// shows the address, and `/copy-link` copies it. An address that is not a web page is
    /// neither shown, opened nor copied.
    pub(super) fn on_topup_started(&mut self, mut funding: Funding, effects: &mut Vec<Effect>) {
        if let Some(Err(why)) = funding.checkout_url.as_deref().map(validate_checkout_url) {
            funding.checkout_url = None;
            self.remember(&funding);
            return self.error(format!(
                "top-up {}: the server's checkout address cannot be used: {why}",
                funding.id
            ));
        }
        if let Some(url) = funding
            .checkout_url
            .as_ref()
            .filter(|_| self.can_open_browser)
        {
            effects.push(Effect::OpenBrowser(url.clone()));
        }
        self.notice = None;
        self.remember(&funding);
        self.following = Some(funding);
    }

    /// `/copy-link`: the address of the top-up being paid, to the clipboard (OSC 52), since
    /// the TUI holds the mouse and selecting it by hand is awkward.
    pub(super) fn copy_checkout_link(&mut self, effects: &mut Vec<Effect>) {
        match self.following.as_ref().and_then(|f| f.checkout_url.clone()) {
            Some(url) => {
                effects.push(Effect::Copy(url));
                self.info("copied the checkout address");
            }
            None => self.error("/copy-link: no top-up is waiting to be paid"),
        }
    }

    pub(super) fn on_withdrawn(&mut self, funding: Funding, effects: &mut Vec<Effect>) {
        if let Some(modal) = self
            .modal
            .as_mut()
            .filter(|m| m.kind == ModalKind::Withdraw)
        {
            let to = funding
                .bank_account
                .as_deref()
                .map(inert_line)
                .unwrap_or_default();
            modal.step = Step::Receipt(format!("{} on its way to {to}.", funding.amount));
        }
        self.remember(&funding);
        effects.push(Effect::LoadBalance);
    }

    /// A top-up or withdrawal changed (here or on another device).
    pub(super) fn on_funding_updated(&mut self, funding: Funding, effects: &mut Vec<Effect>) {
        self.remember(&funding);
        if funding.status == FundingStatus::Pending {
            return;
        }
        self.refresh_balance(effects);
        if !self.live {
            return;
        }
        let reason = inert_line(&funding.reason);
        let (kind, text) = match (funding.kind, funding.status) {
            (FundingKind::Topup, FundingStatus::Succeeded) => (
                NoticeKind::Info,
                format!("top-up of {} arrived", funding.amount),
            ),
            (FundingKind::Topup, _) => (
                NoticeKind::Error,
                format!("top-up of {} not paid: {reason}", funding.amount),
            ),
            (FundingKind::Payout, FundingStatus::Succeeded) => (
                NoticeKind::Info,
                format!("withdrawal of {} reached the bank", funding.amount),
            ),
            (FundingKind::Payout, _) => (
                NoticeKind::Error,
                format!("withdrawal of {} came back: {reason}", funding.amount),
            ),
        };
        self.notify_in(None, kind, text);
    }

    /// The wallet's list from the server: news of nothing, so no notice.
    pub(super) fn on_fundings_listed(&mut self, list: Vec<Funding>) {
        for funding in &list {
            self.remember(funding);
        }
    }

    /// Keeps `funding` in the list, newest first, as it stands now; a top-up followed here
    /// stops being followed once it has ended.
    fn remember(&mut self, funding: &Funding) {
        match self.fundings.iter_mut().find(|f| f.id == funding.id) {
            Some(known) => *known = funding.clone(),
            None => {
                self.fundings.push(funding.clone());
                self.fundings.sort_by_key(|f| std::cmp::Reverse(f.id));
            }
        }
        if self.following.as_ref().is_some_and(|f| f.id == funding.id) {
            self.following = (funding.status == FundingStatus::Pending).then(|| funding.clone());
        }
    }

    /// One line for a top-up or withdrawal: "top-up €20.00 succeeded".
    pub fn describe_funding(funding: &Funding) -> String {
        let what = match funding.kind {
            FundingKind::Topup => "top-up".to_owned(),
            FundingKind::Payout => format!(
                "withdrawal to {}",
                funding
                    .bank_account
                    .as_deref()
                    .map_or_else(String::new, inert_line)
            ),
        };
        let mut line = format!("{what} {} {}", funding.amount, funding.status.as_str());
        if !funding.reason.is_empty() {
            line.push_str(&format!(": {}", inert_line(&funding.reason)));
        }
        line
    }
}
