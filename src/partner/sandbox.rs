//! The adapter for quid's sandbox partner (`quid partner-sandbox`, `src/sandbox/`), and the
//! shapes of its API, which the sandbox serves from the same types. The API is a card
//! processor's in miniature: JSON over HTTP, a bearer secret, an `Idempotency-Key` header on
//! creation, objects with ids and statuses, and webhooks signed as Stripe signs them (header
//! `Sandbox-Signature`).

use super::{
    Created, PartnerError, PartnerEvent, PayoutOrder, Provider, TopupOrder, WebhookError, signature,
};
use crate::money::{Currency, Money};
use crate::protocol::funding::{FundingKind, FundingStatus};
use serde::{Deserialize, Serialize};

/// The currencies the sandbox takes; others are refused as a real partner would.
pub const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "CHF", "SEK"];

/// The header the sandbox's webhooks are signed in.
pub const SIGNATURE_HEADER: &str = "Sandbox-Signature";

/// `POST /v1/topups`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTopup {
    pub amount: i64,
    pub currency: String,
    /// The caller's own reference, echoed back.
    #[serde(default)]
    pub reference: String,
}

/// `POST /v1/payouts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewPayout {
    pub amount: i64,
    pub currency: String,
    pub bank_account: String,
    #[serde(default)]
    pub reference: String,
}

/// A top-up or a payout as the sandbox shows it. Top-ups are `pending`, `requires_action`,
/// `processing`, `succeeded` or `failed`; payouts `pending`, `paid` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    pub id: String,
    /// `topup` or `payout`.
    pub object: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub checkout_url: Option<String>,
    #[serde(default)]
    pub reference: String,
}

/// A webhook's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    /// `topup.created`, `topup.succeeded`, `topup.failed`, `payout.paid`, `payout.failed`...
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventData {
    pub object: Object,
}

/// An error reply's body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// The sandbox at `base` (e.g. `http://127.0.0.1:4243`), under the name `name`.
pub struct Sandbox {
    name: String,
    base: String,
    secret: String,
    agent: ureq::Agent,
}

impl Sandbox {
    pub fn new(name: &str, base: &str, secret: &str) -> Sandbox {
        Sandbox {
            name: name.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            secret: secret.to_owned(),
            agent: super::http_agent(),
        }
    }

    fn create<T: Serialize>(
        &self,
        path: &str,
        key: &str,
        body: &T,
    ) -> Result<Object, PartnerError> {
        let reply = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.secret))
            .header("Idempotency-Key", key)
            .send_json(body);
        super::read_reply(&self.name, reply)
    }

    fn event(&self, object: Object, event_id: String) -> Result<PartnerEvent, String> {
        let currency = Currency::from_code(&object.currency).map_err(|e| e.to_string())?;
        let (kind, status) = status_of(&object)?;
        Ok(PartnerEvent {
            provider: self.name.clone(),
            event_id,
            reference: object.id,
            kind,
            status,
            amount: Money::new(object.amount, currency),
            reason: object.failure_reason.unwrap_or_default(),
        })
    }
}

/// What a sandbox object's `object` and `status` mean to quid.
fn status_of(object: &Object) -> Result<(FundingKind, FundingStatus), String> {
    let kind = match object.object.as_str() {
        "topup" => FundingKind::Topup,
        "payout" => FundingKind::Payout,
        other => return Err(format!("unknown object {other:?}")),
    };
    let status = match (kind, object.status.as_str()) {
        (_, "pending") | (FundingKind::Topup, "requires_action" | "processing") => {
            FundingStatus::Pending
        }
        (FundingKind::Topup, "succeeded") | (FundingKind::Payout, "paid") => {
            FundingStatus::Succeeded
        }
        (_, "failed") => FundingStatus::Failed,
        (_, other) => return Err(format!("unknown {} status {other:?}", object.object)),
    };
    Ok((kind, status))
}

impl Provider for Sandbox {
    fn name(&self) -> &str {
        &self.name
    }

    fn accepts(&self, currency: Currency) -> Result<(), String> {
        if CURRENCIES.contains(&currency.code()) {
            return Ok(());
        }
        Err(format!(
            "{} does not take {}; it takes {}",
            self.name,
            currency.code(),
            CURRENCIES.join(", ")
        ))
    }

    fn create_topup(&self, order: &TopupOrder) -> Result<Created, PartnerError> {
        let body = NewTopup {
            amount: order.amount.amount_minor,
            currency: order.amount.currency.code().to_owned(),
            reference: format!("quid:{}", order.funding),
        };
        let object = self.create("/v1/topups", order.key, &body)?;
        Ok(Created {
            reference: object.id,
            checkout_url: object.checkout_url,
        })
    }

    fn create_payout(&self, order: &PayoutOrder) -> Result<Created, PartnerError> {
        let body = NewPayout {
            amount: order.amount.amount_minor,
            currency: order.amount.currency.code().to_owned(),
            bank_account: order.bank_account.to_owned(),
            reference: format!("quid:{}", order.funding),
        };
        let object = self.create("/v1/payouts", order.key, &body)?;
        Ok(Created {
            reference: object.id,
            checkout_url: None,
        })
    }

    fn fetch(&self, kind: FundingKind, reference: &str) -> Result<PartnerEvent, PartnerError> {
        let path = match kind {
            FundingKind::Topup => "topups",
            FundingKind::Payout => "payouts",
        };
        let reply = self
            .agent
            .get(format!("{}/v1/{path}/{reference}", self.base))
            .header("Authorization", format!("Bearer {}", self.secret))
            .call();
        let object: Object = super::read_reply(&self.name, reply)?;
        let event_id = format!("fetch:{}:{}", object.id, object.status);
        self.event(object, event_id)
            .map_err(|e| PartnerError::Unreachable(format!("unreadable reply: {e}")))
    }

    fn webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Option<PartnerEvent>, WebhookError> {
        signature::verify(self.secret.as_bytes(), signature, body, now)?;
        let event: Event =
            serde_json::from_slice(body).map_err(|e| WebhookError::Unreadable(e.to_string()))?;
        if !event.kind.starts_with("topup.") && !event.kind.starts_with("payout.") {
            return Ok(None);
        }
        self.event(event.data.object, event.id)
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

    fn object(kind: &str, status: &str) -> Object {
        Object {
            id: "tu_1".into(),
            object: kind.into(),
            amount: 1200,
            currency: "EUR".into(),
            status: status.into(),
            failure_reason: Some("card declined".into()),
            checkout_url: None,
            reference: String::new(),
        }
    }

    #[test]
    fn statuses_map_to_quids() {
        let pending = [
            ("topup", "requires_action"),
            ("topup", "processing"),
            ("payout", "pending"),
        ];
        for (kind, status) in pending {
            assert_eq!(
                status_of(&object(kind, status)).unwrap().1,
                FundingStatus::Pending
            );
        }
        assert_eq!(
            status_of(&object("payout", "paid")).unwrap(),
            (FundingKind::Payout, FundingStatus::Succeeded)
        );
        assert!(status_of(&object("payout", "succeeded")).is_err());
        assert!(status_of(&object("charge", "failed")).is_err());
    }

    #[test]
    fn a_signed_webhook_reads_and_a_forged_one_does_not() {
        let sandbox = Sandbox::new("sandbox", "http://127.0.0.1:1", "s3cret");
        let event = Event {
            id: "evt_1".into(),
            kind: "topup.failed".into(),
            created: 1_700_000_000,
            data: EventData {
                object: object("topup", "failed"),
            },
        };
        let body = serde_json::to_vec(&event).unwrap();
        let header = signature::sign(b"s3cret", &body, 1_700_000_000);
        let read = sandbox
            .webhook(Some(&header), &body, 1_700_000_000)
            .unwrap()
            .unwrap();
        assert_eq!(read.status, FundingStatus::Failed);
        assert_eq!(read.reason, "card declined");
        assert_eq!(read.event_id, "evt_1");
        let forged = signature::sign(b"guess", &body, 1_700_000_000);
        let refused = sandbox
            .webhook(Some(&forged), &body, 1_700_000_000)
            .unwrap_err();
        assert!(matches!(refused, WebhookError::Signature(_)), "{refused}");
    }
}
