//! One conversation's messages as the client holds them: confirmed messages in id order, then
//! the ones still queued in the outbox. Only text made inert enters here.

use crate::money::Money;
use crate::protocol::model::Quote;
use crate::protocol::payments::{
    Card, Invoice, InvoiceId, InvoiceStatus, PaymentRequest, PaymentRequestId, RequestStatus,
};
use crate::protocol::payments::{EXPIRED_MEMO, readable_memo};
use crate::protocol::{ClientMsgId, Message, MessageId, TimestampMs};
use crate::untrusted::{inert, inert_line};
use std::collections::HashSet;

/// A payment or request card as the TUI shows it; names and memo are inert.
#[derive(Debug, Clone, PartialEq)]
pub enum CardView {
    Payment {
        from: String,
        to: String,
        amount: Money,
        memo: String,
        /// The message that carries the memo, when it is sealed beside the card.
        sealed_memo: Option<ClientMsgId>,
    },
    Request {
        id: PaymentRequestId,
        requester: String,
        payer: String,
        amount: Money,
        memo: String,
        sealed_memo: Option<ClientMsgId>,
        status: RequestStatus,
        expires_at: Option<TimestampMs>,
    },
    Invoice {
        id: InvoiceId,
        buyer: String,
        /// (quantity, name, line total), names inert.
        lines: Vec<(u32, String, Money)>,
        total: Money,
        status: InvoiceStatus,
        refunded: Money,
    },
    Refund {
        amount: Money,
        invoice_id: InvoiceId,
    },
}

/// A card that can be picked with Tab and acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Request(PaymentRequestId),
    Invoice(InvoiceId),
}

impl CardView {
    pub fn from_card(card: &Card) -> CardView {
        match card {
            Card::Payment { transfer } => CardView::Payment {
                from: transfer
                    .from
                    .as_ref()
                    .map_or_else(|| "funds".into(), |u| inert_line(&u.username)),
                to: inert_line(&transfer.to.username),
                amount: transfer.amount,
                memo: inert_line(readable_memo(&transfer.memo)),
                sealed_memo: card.sealed_memo_client_id(),
            },
            Card::Request { request } => CardView::from_request(request),
            Card::Invoice { invoice } => CardView::from_invoice(invoice),
            Card::Refund {
                transfer,
                invoice_id,
            } => CardView::Refund {
                amount: transfer.amount,
                invoice_id: *invoice_id,
            },
        }
    }

    /// Says the memo expired if one of the messages `gone` carried it.
    fn memo_gone_with(&mut self, gone: &HashSet<ClientMsgId>) {
        let (CardView::Payment {
            memo, sealed_memo, ..
        }
        | CardView::Request {
            memo, sealed_memo, ..
        }) = self
        else {
            return;
        };
        if sealed_memo.is_some_and(|id| gone.contains(&id)) {
            *memo = EXPIRED_MEMO.to_owned();
            *sealed_memo = None;
        }
    }

    pub fn from_invoice(invoice: &Invoice) -> CardView {
        let currency = invoice.total.currency;
        CardView::Invoice {
            id: invoice.id,
            buyer: inert_line(&invoice.buyer.username),
            lines: invoice
                .items
                .iter()
                .map(|item| {
                    let line_total = item
                        .unit_price_minor
                        .saturating_mul(i64::from(item.quantity));
                    (
                        item.quantity,
                        inert_line(&item.name),
                        Money::new(line_total, currency),
                    )
                })
                .collect(),
            total: invoice.total,
            status: invoice.status,
            refunded: invoice.refunded,
        }
    }

    pub fn from_request(request: &PaymentRequest) -> CardView {
        CardView::Request {
            id: request.id,
            requester: inert_line(&request.requester.username),
            payer: inert_line(&request.payer.username),
            amount: request.amount,
            memo: inert_line(readable_memo(&request.memo)),
            sealed_memo: crate::protocol::payments::sealed_memo_client_id(&request.memo),
            status: request.status,
            expires_at: request.expires_at,
        }
    }
}

/// What the sender sees of their own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the outbox, not yet acknowledged by the server.
    Queued,
    /// Stored by the server.
    Sent,
    /// Someone else in the conversation has read it.
    Read,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `None` while queued.
    pub id: Option<MessageId>,
    pub client_id: ClientMsgId,
    pub sender: String,
    pub text: String,
    pub sent_at: TimestampMs,
    pub mine: bool,
    pub card: Option<CardView>,
    /// The message this one answers.
    pub reply: Option<QuoteView>,
    pub edited: bool,
    /// A tombstone: "message deleted".
    pub deleted: bool,
    /// (emoji, who reacted with it), in the server's order; all inert.
    pub reactions: Vec<(String, Vec<String>)>,
    /// Someone else's message that mentions you: highlighted.
    pub mentions_me: bool,
    /// A secret message this device cannot read, and why (inert).
    pub unreadable: Option<String>,
    /// A disappearing message: when it goes.
    pub expires_at: Option<TimestampMs>,
    /// The file it carries (its name as the server sent it: shown inert).
    pub file: Option<crate::protocol::files::FileRef>,
}

/// The one-line quote a reply shows of the message it answers; inert.
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteView {
    pub id: MessageId,
    pub sender: String,
    pub text: String,
    pub deleted: bool,
}

impl QuoteView {
    pub fn from_quote(quote: &Quote) -> QuoteView {
        QuoteView {
            id: quote.id,
            sender: inert_line(&quote.sender.username),
            text: inert_line(&quote.text),
            deleted: quote.deleted,
        }
    }
}

impl Entry {
    pub fn from_message(message: &Message, me: &str) -> Entry {
        Entry {
            id: Some(message.id),
            client_id: message.client_id,
            sender: inert_line(&message.sender.username),
            text: inert(&message.text),
            sent_at: message.sent_at,
            mine: message.sender.username == me,
            mentions_me: message.sender.username != me && mentions(message, me),
            card: message.card.as_deref().map(CardView::from_card),
            reply: message.reply_to.as_deref().map(QuoteView::from_quote),
            edited: message.edited_at.is_some(),
            deleted: message.deleted,
            reactions: message
                .reactions
                .iter()
                .map(|r| {
                    let users = r.users.iter().map(|u| inert_line(&u.username)).collect();
                    (inert_line(&r.emoji), users)
                })
                .collect(),
            unreadable: message.unreadable.as_deref().map(inert_line),
            expires_at: message.expires_at,
            file: message.file.as_deref().cloned(),
        }
    }

    /// A message written here, before the server has it.
    pub fn queued(
        client_id: ClientMsgId,
        sender: &str,
        text: &str,
        reply: Option<QuoteView>,
        written_at: TimestampMs,
    ) -> Entry {
        Entry {
            id: None,
            client_id,
            sender: sender.to_owned(),
            text: inert(text),
            sent_at: written_at,
            mine: true,
            card: None,
            reply,
            edited: false,
            deleted: false,
            reactions: Vec::new(),
            mentions_me: false,
            unreadable: None,
            expires_at: None,
            file: None,
        }
    }

    /// This entry as a quote, for a reply to it.
    pub fn quote(&self) -> Option<QuoteView> {
        Some(QuoteView {
            id: self.id?,
            sender: self.sender.clone(),
            text: self.text.replace('\n', " "),
            deleted: self.deleted,
        })
    }

    /// The request or invoice this entry's card shows, if it is one.
    pub fn pick(&self) -> Option<Pick> {
        match &self.card {
            Some(CardView::Request { id, .. }) => Some(Pick::Request(*id)),
            Some(CardView::Invoice { id, .. }) => Some(Pick::Invoice(*id)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub entries: Vec<Entry>,
    /// Whether the server holds messages older than the first entry.
    pub has_more_before: bool,
    /// A history request is in flight.
    pub loading: bool,
    /// The newest page has been fetched at least once.
    pub loaded: bool,
    /// Lines scrolled up from the bottom; 0 follows new messages.
    pub scroll: usize,
    /// The first message that was unread when the conversation was opened.
    pub new_marker: Option<MessageId>,
    /// The newest message someone else has read.
    pub read_by_others: Option<MessageId>,
    /// Messages from others that arrived while scrolled up.
    pub unseen_below: u32,
    /// The client ids of disappearing messages that went: a card whose sealed memo one of
    /// them carried says the memo expired, also when the card arrives later.
    pub expired: HashSet<ClientMsgId>,
}

impl Timeline {
    /// Adds a message the server has; replaces the queued entry with the same client id.
    /// A message already held is ignored, so replays and duplicates change nothing.
    pub fn insert(&mut self, entry: Entry) {
        let Some(id) = entry.id else { return };
        // Only the queued tail can hold this message's unconfirmed copy.
        let confirmed = self.confirmed_len();
        if let Some(queued) = self.entries[confirmed..]
            .iter()
            .position(|e| e.client_id == entry.client_id)
        {
            self.entries.remove(confirmed + queued);
        }
        match self.entries[..confirmed].binary_search_by_key(&Some(id), |e| e.id) {
            Ok(_) => {}
            Err(position) => {
                self.entries.insert(position, entry);
                if let Some(card) = self.entries[position].card.as_mut() {
                    card.memo_gone_with(&self.expired);
                }
            }
        }
    }

    /// Removes the disappearing messages whose time is up at `now`; true when any went.
    pub fn expire(&mut self, now: TimestampMs) -> bool {
        let held = self.entries.len();
        let expired = &mut self.expired;
        self.entries.retain(|e| {
            let gone = e.expires_at.is_some_and(|at| at <= now);
            if gone {
                expired.insert(e.client_id);
            }
            !gone
        });
        self.mark_expired_memos();
        self.entries.len() != held
    }

    /// Cards whose sealed memo went with its message say so.
    fn mark_expired_memos(&mut self) {
        if self.expired.is_empty() {
            return;
        }
        for card in self.entries.iter_mut().filter_map(|e| e.card.as_mut()) {
            card.memo_gone_with(&self.expired);
        }
    }

    pub fn add_queued(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    pub fn remove_queued(&mut self, client_id: ClientMsgId) -> Option<Entry> {
        let position = self
            .entries
            .iter()
            .position(|e| e.id.is_none() && e.client_id == client_id)?;
        Some(self.entries.remove(position))
    }

    /// Merges a page of history, older than or overlapping what is held, in one pass over
    /// the timeline (inserting one by one cost a pass per message).
    pub fn merge_page(
        &mut self,
        mut page: Vec<Entry>,
        has_more_before: bool,
        was_older_page: bool,
    ) {
        page.retain(|e| e.id.is_some());
        page.sort_by_key(|e| e.id);
        let confirmed = self.confirmed_len();
        let mut queued = self.entries.split_off(confirmed);
        queued.retain(|q| !page.iter().any(|p| p.client_id == q.client_id));
        let held = std::mem::take(&mut self.entries);
        self.entries = merge_by_id(held, page);
        self.entries.append(&mut queued);
        self.mark_expired_memos();
        if was_older_page || !self.loaded {
            self.has_more_before = has_more_before;
        }
        self.loaded = true;
        self.loading = false;
    }

    pub fn first_id(&self) -> Option<MessageId> {
        self.entries.first().and_then(|e| e.id)
    }

    pub fn last_id(&self) -> Option<MessageId> {
        self.entries[..self.confirmed_len()]
            .last()
            .and_then(|e| e.id)
    }

    pub fn delivery(&self, entry: &Entry) -> Delivery {
        match (entry.id, self.read_by_others) {
            (None, _) => Delivery::Queued,
            (Some(id), Some(read)) if id <= read => Delivery::Read,
            _ => Delivery::Sent,
        }
    }

    /// Replaces a held message with its new state (edited, deleted, reacted to); false when
    /// this timeline does not hold it.
    pub fn update(&mut self, entry: Entry) -> bool {
        let confirmed = self.confirmed_len();
        match self.entries[..confirmed].binary_search_by_key(&entry.id, |e| e.id) {
            Ok(at) => {
                self.entries[at] = entry;
                if let Some(card) = self.entries[at].card.as_mut() {
                    card.memo_gone_with(&self.expired);
                }
                true
            }
            Err(_) => false,
        }
    }

    /// The held message `id`, if any.
    pub fn find(&self, id: MessageId) -> Option<&Entry> {
        let confirmed = self.confirmed_len();
        let at = self.entries[..confirmed]
            .binary_search_by_key(&Some(id), |e| e.id)
            .ok()?;
        self.entries.get(at)
    }

    /// The confirmed message `step` places from `id` (negative: older), if held.
    pub fn neighbour(&self, id: MessageId, step: isize) -> Option<MessageId> {
        let confirmed = self.confirmed_len();
        let at = self.entries[..confirmed]
            .binary_search_by_key(&Some(id), |e| e.id)
            .ok()?;
        let next = at.checked_add_signed(step).filter(|&n| n < confirmed)?;
        self.entries[next].id
    }

    /// Puts a request's new state on its card; false when no card here shows it.
    pub fn update_request(&mut self, request: &PaymentRequest) -> bool {
        let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.pick() == Some(Pick::Request(request.id)))
        else {
            return false;
        };
        let mut card = CardView::from_request(request);
        card.memo_gone_with(&self.expired);
        entry.card = Some(card);
        true
    }

    /// Puts an invoice's new state on its card; false when no card here shows it.
    pub fn update_invoice(&mut self, invoice: &Invoice) -> bool {
        let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.pick() == Some(Pick::Invoice(invoice.id)))
        else {
            return false;
        };
        entry.card = Some(CardView::from_invoice(invoice));
        true
    }

    /// Open requests and invoices here, newest first: what Tab cycles through.
    pub fn open_picks(&self) -> Vec<Pick> {
        self.entries
            .iter()
            .rev()
            .filter_map(|e| match &e.card {
                Some(CardView::Request {
                    id,
                    status: RequestStatus::Open,
                    ..
                }) => Some(Pick::Request(*id)),
                Some(CardView::Invoice {
                    id,
                    status: InvoiceStatus::Open,
                    ..
                }) => Some(Pick::Invoice(*id)),
                _ => None,
            })
            .collect()
    }

    /// Messages written here and not yet confirmed: the tail after the confirmed ones.
    pub fn queued_count(&self) -> usize {
        self.entries.len() - self.confirmed_len()
    }

    /// Marks the first of the newest `unread` messages from others as where new ones start.
    pub fn place_new_marker(&mut self, unread: u32) {
        if unread == 0 {
            return;
        }
        self.new_marker = self
            .entries
            .iter()
            .rev()
            .filter(|e| !e.mine && e.id.is_some())
            .nth(unread as usize - 1)
            .or_else(|| self.entries.iter().find(|e| !e.mine && e.id.is_some()))
            .and_then(|e| e.id);
    }

    /// Confirmed entries come first, queued ones after (the invariant `insert` keeps).
    fn confirmed_len(&self) -> usize {
        self.entries.partition_point(|e| e.id.is_some())
    }
}

/// Two runs of confirmed entries, each ascending by id, as one; an id in both is kept once,
/// as `held` has it.
fn merge_by_id(held: Vec<Entry>, page: Vec<Entry>) -> Vec<Entry> {
    let mut merged = Vec::with_capacity(held.len() + page.len());
    let (mut held, mut page) = (held.into_iter().peekable(), page.into_iter().peekable());
    loop {
        let take_held = match (held.peek(), page.peek()) {
            (Some(h), Some(p)) if h.id == p.id => {
                page.next();
                true
            }
            (Some(h), Some(p)) => h.id < p.id,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        let next = if take_held { held.next() } else { page.next() };
        merged.extend(next);
    }
}

/// Whether `message` mentions `me` (`@me`).
pub(super) fn mentions(message: &Message, me: &str) -> bool {
    !me.is_empty() && crate::protocol::model::mentioned(&message.text).any(|name| name == me)
}

#[cfg(test)]
mod tests;
