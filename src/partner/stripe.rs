//! The adapter for Stripe: top-ups are Checkout Sessions (`POST /v1/checkout/sessions`, the
//! person pays on the session's `url`), followed by Stripe's webhooks (`checkout.session.*`,
//! signed in the `Stripe-Signature` header) or by retrieving the session. The secret key and the
//! webhook secret come from the server's partner settings, never from a log line. Payouts to a
//! person's bank account need Stripe Connect, which quid does not do: they are refused.
//!
//! The sandbox partner speaks these same shapes (`/v1/checkout/sessions`, Stripe-signed
//! events), which is where this adapter's HTTP calls are tested; see the README for what has
//! and has not been run against Stripe itself.

use super::{
    Created, PartnerError, PartnerEvent, PayoutOrder, Provider, TopupOrder, WebhookError, signature,
};
use crate::money::{Currency, Money};
use crate::protocol::funding::{FundingKind, FundingStatus};
use serde::{Deserialize, Serialize};

/// The header Stripe signs its webhooks in.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Where Stripe's API is.
pub const API: &str = "https://api.stripe.com";

/// Currencies Stripe treats apart from ISO 4217's decimals (its "special cases"): quid does
/// not top up in them through Stripe rather than risk an amount read another way.
const SPECIAL_CASES: &[&str] = &["ISK", "HUF", "TWD", "UGX"];

/// A Checkout Session, as much of it as quid reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    #[serde(default = "session_object")]
    pub object: String,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    pub amount_total: i64,
    /// Lower case, as Stripe writes it.
    pub currency: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
}

fn session_object() -> String {
    "checkout.session".into()
}

/// A webhook's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// What the Stripe adapter is given.
#[derive(Clone)]
pub struct StripeSettings {
    pub name: String,
    /// `https://api.stripe.com`, or a stand-in speaking its shapes (the sandbox).
    pub api: String,
    pub secret_key: String,
    pub webhook_secret: String,
    /// Where Stripe sends the person after paying, and after giving up.
    pub success_url: String,
    pub cancel_url: String,
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secrets are never printed, not even in a debug log.
        f.debug_struct("StripeSettings")
            .field("name", &self.name)
            .field("api", &self.api)
            .field("success_url", &self.success_url)
            .field("cancel_url", &self.cancel_url)
            .finish_non_exhaustive()
    }
}

pub struct Stripe {
    settings: StripeSettings,
    agent: ureq::Agent,
}

impl Stripe {
    pub fn new(mut settings: StripeSettings) -> Stripe {
        settings.api = settings.api.trim_end_matches('/').to_owned();
        Stripe {
            settings,
            agent: super::http_agent(),
        }
    }

    fn event_of(
        &self,
        session: &Session,
        event_id: String,
        kind: Option<&str>,
    ) -> Result<PartnerEvent, String> {
        let currency = Currency::from_code(&session.currency.to_ascii_uppercase())
            .map_err(|e| e.to_string())?;
        let (status, reason) = status_of(session, kind);
        Ok(PartnerEvent {
            provider: self.settings.name.clone(),
            event_id,
            reference: session.id.clone(),
            kind: FundingKind::Topup,
            status,
            amount: Money::new(session.amount_total, currency),
            reason: reason.to_owned(),
        })
    }
}

/// How a session stands for quid, from its fields and the event that carried it (if any):
/// paid when complete and paid; failed when expired or its delayed payment failed.
fn status_of(session: &Session, event: Option<&str>) -> (FundingStatus, &'static str) {
    match (
        event,
        session.status.as_str(),
        session.payment_status.as_str(),
    ) {
        (Some("checkout.session.async_payment_failed"), ..) => {
            (FundingStatus::Failed, "the payment failed")
        }
        (_, "expired", _) => (FundingStatus::Failed, "the checkout expired unpaid"),
        (_, "complete", "paid" | "no_payment_required") => (FundingStatus::Succeeded, ""),
        _ => (FundingStatus::Pending, ""),
    }
}

impl Provider for Stripe {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn accepts(&self, currency: Currency) -> Result<(), String> {
        if SPECIAL_CASES.contains(&currency.code()) {
            return Err(format!(
                "{} does not top up in {} through Stripe, which counts its amounts its own way",
                self.settings.name,
                currency.code()
            ));
        }
        Ok(())
    }

    fn create_topup(&self, order: &TopupOrder) -> Result<Created, PartnerError> {
        let amount = order.amount.amount_minor.to_string();
        let currency = order.amount.currency.code().to_ascii_lowercase();
        let funding = order.funding.to_string();
        let reference = format!("quid:{funding}");
        let form = [
            ("mode", "payment"),
            ("success_url", self.settings.success_url.as_str()),
            ("cancel_url", self.settings.cancel_url.as_str()),
            ("client_reference_id", reference.as_str()),
            ("metadata[quid_funding]", funding.as_str()),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", currency.as_str()),
            ("line_items[0][price_data][unit_amount]", amount.as_str()),
            (
                "line_items[0][price_data][product_data][name]",
                "quid top-up",
            ),
        ];
        let reply = self
            .agent
            .post(format!("{}/v1/checkout/sessions", self.settings.api))
            .header(
                "Authorization",
                format!("Bearer {}", self.settings.secret_key),
            )
            .header("Idempotency-Key", order.key)
            .send_form(form);
        let session: Session = super::read_reply("Stripe", reply)?;
        Ok(Created {
            reference: session.id,
            checkout_url: session.url,
        })
    }

    fn pays_out(&self) -> Result<(), String> {
        Err(format!(
            "{} takes top-ups only: withdrawals through Stripe need Stripe Connect, which quid does not use",
            self.settings.name
        ))
    }

    fn create_payout(&self, _order: &PayoutOrder) -> Result<Created, PartnerError> {
        Err(PartnerError::Refused(
            self.pays_out().err().unwrap_or_default(),
        ))
    }

    fn fetch(&self, kind: FundingKind, reference: &str) -> Result<PartnerEvent, PartnerError> {
        if kind == FundingKind::Payout {
            return Err(PartnerError::Refused(
                "Stripe makes no payouts for quid".into(),
            ));
        }
        let reply = self
            .agent
            .get(format!(
                "{}/v1/checkout/sessions/{reference}",
                self.settings.api
            ))
            .header(
                "Authorization",
                format!("Bearer {}", self.settings.secret_key),
            )
            .call();
        let session: Session = super::read_reply("Stripe", reply)?;
        let event_id = format!(
            "fetch:{}:{}:{}",
            session.id, session.status, session.payment_status
        );
        self.event_of(&session, event_id, None)
            .map_err(|e| PartnerError::Unreachable(format!("unreadable session: {e}")))
    }

    fn webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Option<PartnerEvent>, WebhookError> {
        signature::verify(
            self.settings.webhook_secret.as_bytes(),
            signature,
            body,
            now,
        )?;
        let event: Event =
            serde_json::from_slice(body).map_err(|e| WebhookError::Unreadable(e.to_string()))?;
        if !event.kind.starts_with("checkout.session.") {
            return Ok(None);
        }
        let session: Session = serde_json::from_value(event.data.object)
            .map_err(|e| WebhookError::Unreadable(format!("not a checkout session: {e}")))?;
        self.event_of(&session, event.id, Some(&event.kind))
            .map(Some)
            .map_err(WebhookError::Unreadable)
    }

    fn signature_header(&self) -> &'static str {
        SIGNATURE_HEADER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe() -> Stripe {
        Stripe::new(StripeSettings {
            name: "stripe".into(),
            api: "http://127.0.0.1:1".into(),
            secret_key: "sk_test_x".into(),
            webhook_secret: "whsec_test_secret".into(),
            success_url: "https://example.org/done".into(),
            cancel_url: "https://example.org/cancelled".into(),
        })
    }

    /// Stripe's scheme, checked against a signature computed apart from quid's code (OpenSSL:
    /// `printf '%s' "$t.$payload" | openssl dgst -sha256 -hmac "$secret"`), for the time in
    /// Stripe's documented example header (`t=1492774577`) and stripe-node's test payload.
    #[test]
    fn a_signature_computed_elsewhere_verifies() {
        let payload = br#"{"id":"evt_test_webhook","object":"event"}"#;
        let header = "t=1492774577,v1=88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
        assert_eq!(
            signature::verify(b"whsec_test_secret", Some(header), payload, 1_492_774_577),
            Ok(())
        );
        assert_eq!(
            signature::sign(b"whsec_test_secret", payload, 1_492_774_577)
                .split(',')
                .nth(1),
            header.split(',').nth(1)
        );
        assert_eq!(
            signature::verify(b"whsec_other", Some(header), payload, 1_492_774_577),
            Err(signature::SignatureError::Mismatch)
        );
        // Stripe's documented example header, as printed in its docs: well-formed, so a
        // secret that does not match is a mismatch (not a parse error), and it is years stale.
        let documented = "t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
        assert_eq!(
            signature::verify(
                b"whsec_test_secret",
                Some(documented),
                payload,
                1_492_774_577
            ),
            Err(signature::SignatureError::Mismatch)
        );
        assert!(matches!(
            signature::verify(b"whsec_test_secret", Some(header), payload, 1_700_000_000),
            Err(signature::SignatureError::Stale(_))
        ));
    }

    fn session(status: &str, payment_status: &str) -> Session {
        Session {
            id: "cs_test_1".into(),
            object: "checkout.session".into(),
            status: status.into(),
            payment_status: payment_status.into(),
            amount_total: 2000,
            currency: "eur".into(),
            url: None,
            client_reference_id: Some("quid:5".into()),
        }
    }

    #[test]
    fn sessions_and_their_events_map_to_quids_statuses() {
        let cases = [
            (None, "open", "unpaid", FundingStatus::Pending),
            (
                Some("checkout.session.completed"),
                "complete",
                "paid",
                FundingStatus::Succeeded,
            ),
            (
                Some("checkout.session.completed"),
                "complete",
                "unpaid",
                FundingStatus::Pending,
            ),
            (
                Some("checkout.session.async_payment_succeeded"),
                "complete",
                "paid",
                FundingStatus::Succeeded,
            ),
            (
                Some("checkout.session.async_payment_failed"),
                "complete",
                "unpaid",
                FundingStatus::Failed,
            ),
            (
                Some("checkout.session.expired"),
                "expired",
                "unpaid",
                FundingStatus::Failed,
            ),
        ];
        for (event, status, paid, expected) in cases {
            assert_eq!(
                status_of(&session(status, paid), event).0,
                expected,
                "{event:?} {status} {paid}"
            );
        }
    }

    #[test]
    fn a_signed_stripe_event_reads_with_its_amount_in_upper_case_currency() {
        let stripe = stripe();
        let event = Event {
            id: "evt_1".into(),
            kind: "checkout.session.completed".into(),
            created: 1_700_000_000,
            data: EventData {
                object: serde_json::to_value(session("complete", "paid")).unwrap(),
            },
        };
        let body = serde_json::to_vec(&event).unwrap();
        let header = signature::sign(b"whsec_test_secret", &body, 1_700_000_000);
        let read = stripe
            .webhook(Some(&header), &body, 1_700_000_010)
            .unwrap()
            .unwrap();
        assert_eq!(read.amount.to_string(), "€20.00");
        assert_eq!(
            (read.status, read.reference.as_str()),
            (FundingStatus::Succeeded, "cs_test_1")
        );
        let other = Event {
            kind: "payment_intent.created".into(),
            ..event
        };
        let body = serde_json::to_vec(&other).unwrap();
        let header = signature::sign(b"whsec_test_secret", &body, 1_700_000_000);
        assert_eq!(
            stripe.webhook(Some(&header), &body, 1_700_000_000),
            Ok(None)
        );
    }

    #[test]
    fn payouts_and_special_currencies_are_refused_and_secrets_never_print() {
        let stripe = stripe();
        assert!(stripe.accepts(Currency::from_code("ISK").unwrap()).is_err());
        assert!(stripe.accepts(Currency::from_code("EUR").unwrap()).is_ok());
        let debug = format!("{:?}", stripe.settings);
        assert!(
            !debug.contains("sk_test_x") && !debug.contains("whsec"),
            "{debug}"
        );
    }
}
