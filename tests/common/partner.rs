//! The sandbox payment partner beside a test server: started in-process on a free port, its
//! webhooks pointed at the server; a payer's browser played with plain HTTP form posts; top-ups
//! followed through the server's events.

use super::PATIENCE;
use quid::money::Money;
use quid::protocol::funding::{Funding, FundingId, FundingStatus};
use quid::protocol::payments::IdempotencyKey;
use quid::protocol::{Event, RequestBody, requests};
use quid::sandbox::webhooks::Switches;
use quid::sandbox::{Sandbox, SandboxConfig};
use quid::server::partners::Partners;
use quid::session::connection::{Connection, Pushed};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub const SECRET: &str = "sandbox-test-secret";

/// A bound sandbox, not serving yet: its address is known so a server can be pointed at it.
pub struct Partner {
    pub sandbox: Sandbox,
    pub base: String,
}

impl Partner {
    pub async fn bind(switches: Switches) -> Partner {
        Self::bind_at("127.0.0.1:0".parse().unwrap(), switches).await
    }

    /// A sandbox whose checkout pages expire unpaid after `after`.
    pub async fn bind_expiring(after: Duration) -> Partner {
        Self::bind_with("127.0.0.1:0".parse().unwrap(), Switches::default(), after).await
    }

    pub async fn bind_at(listen: SocketAddr, switches: Switches) -> Partner {
        Self::bind_with(listen, switches, PATIENCE * 10).await
    }

    async fn bind_with(listen: SocketAddr, switches: Switches, expiry: Duration) -> Partner {
        let sandbox = Sandbox::bind(SandboxConfig {
            listen,
            webhook: None,
            stripe_webhook: None,
            secret: SECRET.into(),
            public_url: None,
            switches,
            settle_after: Duration::from_millis(200),
            checkout_expires_after: expiry,
        })
        .await
        .unwrap();
        let base = sandbox.base_url().to_owned();
        Partner { sandbox, base }
    }

    /// The server's adapter for this sandbox.
    pub fn partners(&self) -> Partners {
        let adapter = quid::partner::sandbox::Sandbox::new("sandbox", &self.base, SECRET);
        Partners::new(vec![Arc::new(adapter)])
    }

    /// The server's Stripe adapter, pointed at this sandbox's Stripe-shaped API.
    pub fn stripe(&self) -> Partners {
        let adapter = quid::partner::stripe::Stripe::new(quid::partner::stripe::StripeSettings {
            name: "stripe".into(),
            api: self.base.clone(),
            secret_key: SECRET.into(),
            webhook_secret: SECRET.into(),
            success_url: "http://127.0.0.1/done".into(),
            cancel_url: "http://127.0.0.1/cancelled".into(),
        });
        Partners::new(vec![Arc::new(adapter)])
    }

    /// Serves in the background, its Stripe-shaped events to the server at `server` (none if
    /// `None`).
    pub fn serve_stripe(mut self, server: Option<SocketAddr>) {
        if let Some(server) = server {
            self.sandbox
                .send_stripe_webhooks_to(format!("http://{server}/webhooks/stripe"));
        }
        tokio::spawn(self.sandbox.run(std::future::pending()));
    }

    /// Serves in the background, sending webhooks to the server at `server` (none if `None`).
    pub fn serve(mut self, server: Option<SocketAddr>) -> String {
        if let Some(server) = server {
            self.sandbox
                .send_webhooks_to(format!("http://{server}/webhooks/sandbox"));
        }
        let base = self.base.clone();
        tokio::spawn(self.sandbox.run(std::future::pending()));
        base
    }
}

/// Asks for a top-up of `amount`; the pending funding, with its checkout page.
pub async fn topup(connection: &Connection, amount: Money) -> Funding {
    connection
        .request(RequestBody::Topup(requests::Topup {
            amount,
            idempotency_key: IdempotencyKey::random(),
            provider: None,
        }))
        .await
        .unwrap()
}

/// Submits the checkout page of `url` as a browser would: the card, and Pay or Decline.
/// Returns the page's status and HTML.
pub async fn checkout(url: &str, card: &str, action: &str) -> (u16, String) {
    let (url, form) = (
        url.to_owned(),
        [("card", card.to_owned()), ("action", action.to_owned())],
    );
    tokio::task::spawn_blocking(move || {
        let mut reply = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
            .post(&url)
            .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
            .unwrap();
        let status = reply.status().as_u16();
        (status, reply.body_mut().read_to_string().unwrap())
    })
    .await
    .unwrap()
}

/// Waits for the `funding_updated` event that ends funding `id`.
pub async fn settled(pushed: &mut mpsc::Receiver<Pushed>, id: FundingId) -> Funding {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match pushed.recv().await.expect("connection open") {
                Pushed::Event(_, Event::FundingUpdated { funding })
                    if funding.id == id && funding.status != FundingStatus::Pending =>
                {
                    return *funding;
                }
                _ => {}
            }
        }
    })
    .await
    .expect("the funding did not settle in time")
}

/// A logged-in connection that hears the user's events (from the start of the stream: the
/// tests' users are new).
pub async fn following(url: &url::Url, token: &str) -> (Connection, mpsc::Receiver<Pushed>) {
    let (connection, pushed) = Connection::open(url, Some(token)).await.unwrap();
    connection
        .hello(Some(quid::session::connection::Resume::everything()))
        .await
        .unwrap();
    (connection, pushed)
}

/// POSTs `body` to `url` with `signature` in the sandbox's header; the status and body.
pub async fn post_webhook(url: String, signature: Option<String>, body: Vec<u8>) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut request = agent.post(&url);
        if let Some(signature) = signature {
            request = request.header(quid::partner::sandbox::SIGNATURE_HEADER, &signature);
        }
        let mut reply = request.send(&body[..]).unwrap();
        let status = reply.status().as_u16();
        (status, reply.body_mut().read_to_string().unwrap())
    })
    .await
    .unwrap()
}
