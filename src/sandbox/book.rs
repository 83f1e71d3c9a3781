//! The sandbox's books: its top-ups, payouts and refunds, and the rules that move them from
//! state to state. Plain functions over plain data; each change returns the webhook events it
//! causes, which the caller sends.

use crate::money::{Currency, Money};
use crate::partner::sandbox::{CURRENCIES, Event, EventData, NewPayout, NewTopup, Object};
use crate::partner::stripe::Session;
use crate::protocol::funding::normalize_iban;
use std::collections::{HashMap, HashSet};

/// The largest amount the sandbox takes in one top-up or payout, in minor units.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000;

/// Test cards, as card processors publish them: the number chooses what happens.
pub const CARD_SUCCEEDS: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";
pub const CARD_NO_FUNDS: &str = "4000000000009995";
/// Asks for a second step (3-D Secure) before it succeeds or fails.
pub const CARD_AUTHENTICATE: &str = "4000000000003220";
/// Accepted at once, succeeds after the sandbox's settle delay.
pub const CARD_DELAYED: &str = "4000000000000077";

/// A payout whose amount ends in this many minor units fails at the bank.
pub const PAYOUT_FAILS_CENTS: i64 = 13;

/// A request the sandbox refuses: an HTTP status, a code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

fn refuse(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

/// What a checkout step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The top-up moved on (or ended); its events are to be sent.
    Moved(Vec<Event>),
    /// The top-up asks for its second step.
    Authenticate(Vec<Event>),
    /// The form was wrong (a card that is not a test card): shown on the page again.
    Invalid(String),
}

#[derive(Default)]
pub struct Book {
    objects: HashMap<String, Object>,
    /// Idempotency key -> the object it created, and the request's body as JSON.
    by_key: HashMap<String, (String, String)>,
    /// How much of each top-up was refunded.
    refunded: HashMap<String, i64>,
    /// Top-ups made as Stripe Checkout Sessions: shown and announced in Stripe's shapes.
    sessions: HashSet<String>,
    /// Top-ups that were paid with a delay (processing first), as Stripe's events tell apart.
    delayed: HashSet<String>,
}

impl Book {
    pub fn get(&self, id: &str) -> Option<&Object> {
        self.objects.get(id)
    }

    /// A new top-up, pending, with its checkout page under `base`.
    pub fn create_topup(
        &mut self,
        key: &str,
        order: &NewTopup,
        base: &str,
    ) -> Result<(Object, Vec<Event>), Refusal> {
        self.new_topup("tu", key, order, base)
    }

    /// A new top-up whose id starts with `prefix`.
    fn new_topup(
        &mut self,
        prefix: &str,
        key: &str,
        order: &NewTopup,
        base: &str,
    ) -> Result<(Object, Vec<Event>), Refusal> {
        let body = serde_json::to_string(order).unwrap_or_default();
        if let Some(seen) = self.replay(key, &body)? {
            return Ok((seen, Vec::new()));
        }
        checked_amount(order.amount, &order.currency)?;
        let id = new_id(prefix);
        let object = Object {
            checkout_url: Some(format!("{base}/checkout/{id}")),
            id: id.clone(),
            object: "topup".into(),
            amount: order.amount,
            currency: order.currency.clone(),
            status: "pending".into(),
            failure_reason: None,
            reference: order.reference.clone(),
        };
        let (object, event) = self.insert(key, body, object, "topup.created");
        Ok((object, vec![event]))
    }

    /// A new top-up made as a Stripe Checkout Session (`cs_` id); the same checkout page.
    pub fn create_session(
        &mut self,
        key: &str,
        order: &NewTopup,
        base: &str,
    ) -> Result<(Object, Vec<Event>), Refusal> {
        let (object, events) = self.new_topup("cs", key, order, base)?;
        self.sessions.insert(object.id.clone());
        Ok((object, events))
    }

    /// Whether `id` is a Stripe-shaped session.
    pub fn is_session(&self, id: &str) -> bool {
        self.sessions.contains(id)
    }

    /// Whether top-up `id` went through processing before it ended.
    pub fn was_delayed(&self, id: &str) -> bool {
        self.delayed.contains(id)
    }

    /// A new payout, pending; its outcome is [`Book::settle_payout`]'s.
    pub fn create_payout(
        &mut self,
        key: &str,
        order: &NewPayout,
    ) -> Result<(Object, Vec<Event>), Refusal> {
        let body = serde_json::to_string(order).unwrap_or_default();
        if let Some(seen) = self.replay(key, &body)? {
            return Ok((seen, Vec::new()));
        }
        checked_amount(order.amount, &order.currency)?;
        normalize_iban(&order.bank_account).map_err(|e| refuse(400, "invalid_bank_account", e))?;
        let object = Object {
            id: new_id("po"),
            object: "payout".into(),
            amount: order.amount,
            currency: order.currency.clone(),
            status: "pending".into(),
            failure_reason: None,
            checkout_url: None,
            reference: order.reference.clone(),
        };
        let (object, event) = self.insert(key, body, object, "payout.created");
        Ok((object, vec![event]))
    }

    /// A pending payout reaches the bank: paid, or failed for amounts ending in 13.
    pub fn settle_payout(&mut self, id: &str) -> Vec<Event> {
        let Some(payout) = self.objects.get(id).filter(|o| o.status == "pending") else {
            return Vec::new();
        };
        if payout.amount % 100 == PAYOUT_FAILS_CENTS {
            self.change(
                id,
                "failed",
                Some("the bank refused the payout: account closed"),
            )
        } else {
            self.change(id, "paid", None)
        }
    }

    /// The payer submitted the checkout form with `card` (`action` "pay") or declined.
    pub fn checkout(&mut self, id: &str, action: &str, card: &str) -> Result<Step, Refusal> {
        self.open_topup(id, &["pending"])?;
        if action == "decline" {
            return Ok(Step::Moved(self.change(
                id,
                "failed",
                Some("cancelled at checkout"),
            )));
        }
        let card: String = card.chars().filter(|c| !c.is_whitespace()).collect();
        Ok(match card.as_str() {
            CARD_SUCCEEDS => Step::Moved(self.change(id, "succeeded", None)),
            CARD_DECLINED => Step::Moved(self.change(id, "failed", Some("your card was declined"))),
            CARD_NO_FUNDS => {
                Step::Moved(self.change(id, "failed", Some("your card has insufficient funds")))
            }
            CARD_AUTHENTICATE => Step::Authenticate(self.change(id, "requires_action", None)),
            CARD_DELAYED => {
                self.delayed.insert(id.to_owned());
                Step::Moved(self.change(id, "processing", None))
            }
            _ => Step::Invalid(format!(
                "{card:?} is not one of the sandbox's test cards (see below)"
            )),
        })
    }

    /// The payer completed or failed the second step.
    pub fn authenticate(&mut self, id: &str, approved: bool) -> Result<Vec<Event>, Refusal> {
        self.open_topup(id, &["requires_action"])?;
        Ok(if approved {
            self.change(id, "succeeded", None)
        } else {
            self.change(id, "failed", Some("the card's authentication failed"))
        })
    }

    /// A top-up nobody paid in time: its checkout page no longer takes a card.
    pub fn expire(&mut self, id: &str) -> Vec<Event> {
        match self.objects.get(id) {
            Some(topup) if matches!(topup.status.as_str(), "pending" | "requires_action") => {
                self.change(id, "failed", Some("the checkout expired unpaid"))
            }
            _ => Vec::new(),
        }
    }

    /// A processing top-up's money arrived.
    pub fn settle_topup(&mut self, id: &str) -> Vec<Event> {
        match self.objects.get(id) {
            Some(topup) if topup.status == "processing" => self.change(id, "succeeded", None),
            _ => Vec::new(),
        }
    }

    /// Gives back `amount` of a succeeded top-up to its card.
    pub fn refund(&mut self, topup: &str, amount: i64) -> Result<(Object, Vec<Event>), Refusal> {
        let paid = self.open_topup(topup, &["succeeded"])?.clone();
        let refunded = self.refunded.get(topup).copied().unwrap_or(0);
        if amount <= 0 || amount > paid.amount - refunded {
            return Err(refuse(
                400,
                "invalid_amount",
                format!(
                    "a refund of {topup} must be 1 to {} minor units",
                    paid.amount - refunded
                ),
            ));
        }
        self.refunded.insert(topup.to_owned(), refunded + amount);
        let refund = Object {
            id: new_id("re"),
            object: "refund".into(),
            amount,
            currency: paid.currency,
            status: "succeeded".into(),
            failure_reason: None,
            checkout_url: None,
            reference: topup.to_owned(),
        };
        self.objects.insert(refund.id.clone(), refund.clone());
        let event = event("refund.succeeded", &refund);
        Ok((refund, vec![event]))
    }

    /// The object a key created before, if the same request came with it; a conflict if
    /// another did.
    fn replay(&self, key: &str, body: &str) -> Result<Option<Object>, Refusal> {
        if key.is_empty() {
            return Err(refuse(
                400,
                "missing_idempotency_key",
                "send an Idempotency-Key header",
            ));
        }
        match self.by_key.get(key) {
            None => Ok(None),
            Some((id, first)) if first == body => Ok(self.objects.get(id).cloned()),
            Some(_) => Err(refuse(
                409,
                "idempotency_conflict",
                format!("idempotency key {key:?} was used with another request"),
            )),
        }
    }

    fn insert(&mut self, key: &str, body: String, object: Object, kind: &str) -> (Object, Event) {
        self.by_key
            .insert(key.to_owned(), (object.id.clone(), body));
        self.objects.insert(object.id.clone(), object.clone());
        let event = event(kind, &object);
        (object, event)
    }

    fn open_topup(&self, id: &str, states: &[&str]) -> Result<&Object, Refusal> {
        let topup = self
            .objects
            .get(id)
            .filter(|o| o.object == "topup")
            .ok_or_else(|| refuse(404, "not_found", format!("no top-up {id}")))?;
        if !states.contains(&topup.status.as_str()) {
            return Err(refuse(
                409,
                "wrong_state",
                format!("top-up {id} is {}", topup.status),
            ));
        }
        Ok(topup)
    }

    /// Moves `id` to `status`: the event that says so.
    fn change(&mut self, id: &str, status: &str, reason: Option<&str>) -> Vec<Event> {
        let Some(object) = self.objects.get_mut(id) else {
            return Vec::new();
        };
        object.status = status.to_owned();
        object.failure_reason = reason.map(str::to_owned);
        vec![event(&format!("{}.{status}", object.object), object)]
    }
}

/// A top-up as Stripe shows a Checkout Session: open until paid at the page; complete and
/// paid once paid; complete but unpaid while a delayed payment settles; expired when declined
/// or cancelled (a delayed payment that failed stays complete and unpaid).
pub fn session_of(topup: &Object, delayed: bool) -> Session {
    let (status, payment_status) = match (topup.status.as_str(), delayed) {
        ("succeeded", _) => ("complete", "paid"),
        ("processing", _) | ("failed", true) => ("complete", "unpaid"),
        ("failed", false) => ("expired", "unpaid"),
        _ => ("open", "unpaid"),
    };
    Session {
        id: topup.id.clone(),
        object: "checkout.session".into(),
        status: status.into(),
        payment_status: payment_status.into(),
        amount_total: topup.amount,
        currency: topup.currency.to_ascii_lowercase(),
        url: topup.checkout_url.clone(),
        client_reference_id: Some(topup.reference.clone()).filter(|r| !r.is_empty()),
    }
}

/// The event Stripe would send for a sandbox event about a session, if any: the payment
/// completing (paid, or still settling), a delayed payment ending, or the session expiring.
pub fn stripe_event_of(event: &Event, delayed: bool) -> Option<crate::partner::stripe::Event> {
    let kind = match (event.kind.as_str(), delayed) {
        ("topup.processing", _) | ("topup.succeeded", false) => "checkout.session.completed",
        ("topup.succeeded", true) => "checkout.session.async_payment_succeeded",
        ("topup.failed", true) => "checkout.session.async_payment_failed",
        ("topup.failed", false) => "checkout.session.expired",
        _ => return None,
    };
    let session = session_of(&event.data.object, delayed);
    Some(crate::partner::stripe::Event {
        id: event.id.clone(),
        kind: kind.into(),
        created: event.created,
        data: crate::partner::stripe::EventData {
            object: serde_json::to_value(session).ok()?,
        },
    })
}

fn checked_amount(amount: i64, currency: &str) -> Result<Money, Refusal> {
    if !CURRENCIES.contains(&currency) {
        return Err(refuse(
            400,
            "currency_not_supported",
            format!(
                "the sandbox does not take {currency}; it takes {}",
                CURRENCIES.join(", ")
            ),
        ));
    }
    let currency = Currency::from_code(currency)
        .map_err(|e| refuse(400, "currency_not_supported", e.to_string()))?;
    if amount <= 0 || amount > MAX_AMOUNT_MINOR {
        return Err(refuse(
            400,
            "invalid_amount",
            format!(
                "the amount must be more than zero and at most {}",
                Money::new(MAX_AMOUNT_MINOR, currency)
            ),
        ));
    }
    Ok(Money::new(amount, currency))
}

fn event(kind: &str, object: &Object) -> Event {
    Event {
        id: new_id("evt"),
        kind: kind.to_owned(),
        created: crate::partner::unix_now(),
        data: EventData {
            object: object.clone(),
        },
    }
}

/// A fresh id: a prefix and 16 random hex digits, so ids from a restarted sandbox never
/// meet the old ones in a server's store.
fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    rand::fill(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topup(book: &mut Book, key: &str, amount: i64) -> Object {
        let order = NewTopup {
            amount,
            currency: "EUR".into(),
            reference: "quid:1".into(),
        };
        book.create_topup(key, &order, "http://sandbox").unwrap().0
    }

    #[test]
    fn a_key_returns_its_first_object_and_refuses_another_request() {
        let mut book = Book::default();
        let first = topup(&mut book, "k", 500);
        assert_eq!(topup(&mut book, "k", 500), first);
        let order = NewTopup {
            amount: 600,
            currency: "EUR".into(),
            reference: "quid:1".into(),
        };
        let conflict = book
            .create_topup("k", &order, "http://sandbox")
            .unwrap_err();
        assert_eq!(conflict.status, 409);
    }

    #[test]
    fn test_cards_choose_the_outcome() {
        let mut book = Book::default();
        let cases = [
            (CARD_SUCCEEDS, "succeeded"),
            (CARD_DECLINED, "failed"),
            (CARD_NO_FUNDS, "failed"),
            (CARD_AUTHENTICATE, "requires_action"),
            (CARD_DELAYED, "processing"),
        ];
        for (n, (card, status)) in cases.iter().enumerate() {
            let id = topup(&mut book, &format!("k{n}"), 100).id;
            book.checkout(&id, "pay", card).unwrap();
            assert_eq!(book.get(&id).unwrap().status, *status, "{card}");
        }
        let id = topup(&mut book, "other", 100).id;
        assert!(matches!(
            book.checkout(&id, "pay", "1234").unwrap(),
            Step::Invalid(_)
        ));
        book.checkout(&id, "decline", "").unwrap();
        assert_eq!(
            book.get(&id).unwrap().failure_reason.as_deref(),
            Some("cancelled at checkout")
        );
        let refused = book.checkout(&id, "pay", CARD_SUCCEEDS).unwrap_err();
        assert_eq!(refused.status, 409, "a top-up is paid once");
    }

    #[test]
    fn the_second_step_and_the_delay_end_pending_top_ups() {
        let mut book = Book::default();
        let id = topup(&mut book, "a", 100).id;
        book.checkout(&id, "pay", CARD_AUTHENTICATE).unwrap();
        let events = book.authenticate(&id, true).unwrap();
        assert_eq!(events[0].kind, "topup.succeeded");
        let id = topup(&mut book, "b", 100).id;
        book.checkout(&id, "pay", CARD_DELAYED).unwrap();
        assert_eq!(book.settle_topup(&id)[0].kind, "topup.succeeded");
        assert!(book.settle_topup(&id).is_empty(), "settled once");
    }

    #[test]
    fn an_unpaid_checkout_expires_and_a_paid_one_does_not() {
        let mut book = Book::default();
        let unpaid = topup(&mut book, "a", 100).id;
        assert_eq!(book.expire(&unpaid)[0].kind, "topup.failed");
        let refused = book.checkout(&unpaid, "pay", CARD_SUCCEEDS).unwrap_err();
        assert_eq!(refused.status, 409, "an expired page takes no card");
        let paid = topup(&mut book, "b", 100).id;
        book.checkout(&paid, "pay", CARD_SUCCEEDS).unwrap();
        assert!(book.expire(&paid).is_empty());
        assert_eq!(book.get(&paid).unwrap().status, "succeeded");
    }

    #[test]
    fn payouts_fail_for_amounts_ending_in_13_and_bad_input_is_refused() {
        let mut book = Book::default();
        let payout = |amount, account: &str| NewPayout {
            amount,
            currency: "EUR".into(),
            bank_account: account.into(),
            reference: String::new(),
        };
        let iban = "DE89370400440532013000";
        let (paid, _) = book.create_payout("p1", &payout(2000, iban)).unwrap();
        assert_eq!(book.settle_payout(&paid.id)[0].kind, "payout.paid");
        let (failed, _) = book.create_payout("p2", &payout(2013, iban)).unwrap();
        assert_eq!(book.settle_payout(&failed.id)[0].kind, "payout.failed");
        let bad_iban = book.create_payout("p3", &payout(100, "DE00")).unwrap_err();
        assert_eq!(bad_iban.code, "invalid_bank_account");
        let yen = NewPayout {
            currency: "JPY".into(),
            ..payout(100, iban)
        };
        assert_eq!(
            book.create_payout("p4", &yen).unwrap_err().code,
            "currency_not_supported"
        );
        let huge = book
            .create_payout("p5", &payout(MAX_AMOUNT_MINOR + 1, iban))
            .unwrap_err();
        assert_eq!(huge.code, "invalid_amount");
    }

    #[test]
    fn refunds_never_exceed_the_top_up() {
        let mut book = Book::default();
        let id = topup(&mut book, "a", 1000).id;
        assert_eq!(
            book.refund(&id, 100).unwrap_err().status,
            409,
            "not paid yet"
        );
        book.checkout(&id, "pay", CARD_SUCCEEDS).unwrap();
        book.refund(&id, 600).unwrap();
        assert_eq!(book.refund(&id, 401).unwrap_err().code, "invalid_amount");
        book.refund(&id, 400).unwrap();
    }
}
