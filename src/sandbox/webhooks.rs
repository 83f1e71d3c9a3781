//! Sending the sandbox's webhooks: each event signed at the moment it is sent (Stripe's
//! scheme, `partner::signature`), POSTed to the configured URL, and tried again with backoff
//! until the receiver answers 2xx or plainly refuses it. Switches make delivery misbehave the
//! ways real partners do, so a receiver's idempotency is exercised: every event twice, events
//! out of order, events late.

use crate::partner::sandbox::{Event, SIGNATURE_HEADER};
use crate::partner::{signature, unix_now};
use rand::RngExt;
use rand::seq::SliceRandom;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How delivery misbehaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Switches {
    /// Send every event twice.
    pub duplicate: bool,
    /// Hold events for a moment and send them in a random order.
    pub shuffle: bool,
    /// Send each event after a random delay of up to this long.
    pub late: Duration,
}

/// How long shuffling holds events to mix them.
const SHUFFLE_WINDOW: Duration = Duration::from_millis(100);

/// Attempts per delivery, and the longest pause between two: about three minutes in all, so
/// a receiver that restarts meanwhile still gets everything.
const ATTEMPTS: u32 = 40;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Which receiver an event is for: the sandbox's own shape, or Stripe's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Sandbox,
    Stripe,
}

/// An event ready to send: its id and type (for the log), its JSON body, its receiver.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: String,
    pub kind: String,
    pub body: Vec<u8>,
    pub route: Route,
}

impl Outgoing {
    pub fn sandbox(event: &Event) -> Outgoing {
        Self::of(&event.id, &event.kind, event, Route::Sandbox)
    }

    pub fn stripe(event: &crate::partner::stripe::Event) -> Outgoing {
        Self::of(&event.id, &event.kind, event, Route::Stripe)
    }

    fn of(id: &str, kind: &str, event: &impl serde::Serialize, route: Route) -> Outgoing {
        Outgoing {
            id: id.to_owned(),
            kind: kind.to_owned(),
            body: serde_json::to_vec(event).unwrap_or_default(),
            route,
        }
    }
}

/// Where each route's events are POSTed; a route without a URL drops its events.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub sandbox: Option<String>,
    pub stripe: Option<String>,
}

/// Where events go to be sent.
pub type Outbox = mpsc::UnboundedSender<Outgoing>;

/// Starts the sender; events put in the returned outbox are delivered to their route's URL.
pub fn start(targets: Targets, secret: String, switches: Switches) -> Outbox {
    let (outbox, mut events) = mpsc::unbounded_channel::<Outgoing>();
    let target = |url: Option<String>, header| {
        url.map(|url| {
            Arc::new(Target {
                url,
                header,
                secret: secret.clone(),
                agent: crate::partner::http_agent(),
            })
        })
    };
    let sandbox = target(targets.sandbox, SIGNATURE_HEADER);
    let stripe = target(targets.stripe, crate::partner::stripe::SIGNATURE_HEADER);
    tokio::spawn(async move {
        while let Some(first) = events.recv().await {
            let mut batch = vec![first];
            if switches.shuffle {
                hold_more(&mut events, &mut batch).await;
                batch.shuffle(&mut rand::rng());
            }
            for event in batch {
                let target = match event.route {
                    Route::Sandbox => &sandbox,
                    Route::Stripe => &stripe,
                };
                let Some(target) = target else { continue };
                let copies = if switches.duplicate { 2 } else { 1 };
                for _ in 0..copies {
                    let delay = random_delay(switches.late);
                    tokio::spawn(Arc::clone(target).deliver(event.clone(), delay));
                }
            }
        }
    });
    outbox
}

/// Adds to `batch` whatever arrives within the shuffle window.
async fn hold_more(events: &mut mpsc::UnboundedReceiver<Outgoing>, batch: &mut Vec<Outgoing>) {
    let window = tokio::time::sleep(SHUFFLE_WINDOW);
    tokio::pin!(window);
    loop {
        tokio::select! {
            _ = &mut window => return,
            next = events.recv() => match next {
                Some(event) => batch.push(event),
                None => return,
            },
        }
    }
}

fn random_delay(up_to: Duration) -> Duration {
    if up_to.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..=up_to.as_millis() as u64))
}

struct Target {
    url: String,
    /// The header its signature goes in.
    header: &'static str,
    secret: String,
    agent: ureq::Agent,
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// The receiver refused the event as it is: sending it again will not help.
    Refused(u16, String),
    /// No answer, or a passing failure: try again.
    Failed(String),
}

impl Target {
    async fn deliver(self: Arc<Self>, event: Outgoing, delay: Duration) {
        tokio::time::sleep(delay).await;
        let body = event.body.clone();
        let mut backoff = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            let target = Arc::clone(&self);
            let body = body.clone();
            let outcome = tokio::task::spawn_blocking(move || target.post(&body))
                .await
                .unwrap_or_else(|e| Attempt::Failed(e.to_string()));
            match outcome {
                Attempt::Delivered => {
                    tracing::info!(
                        event = event.id,
                        kind = event.kind,
                        attempt,
                        "webhook delivered"
                    );
                    return;
                }
                Attempt::Refused(status, why) => {
                    tracing::warn!(event = event.id, status, why, "webhook refused");
                    return;
                }
                Attempt::Failed(why) => {
                    tracing::debug!(event = event.id, attempt, why, "webhook not delivered yet");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        tracing::warn!(
            event = event.id,
            "webhook given up after {ATTEMPTS} attempts"
        );
    }

    fn post(&self, body: &[u8]) -> Attempt {
        let header = signature::sign(self.secret.as_bytes(), body, unix_now());
        let reply = self
            .agent
            .post(&self.url)
            .header(self.header, &header)
            .header("Content-Type", "application/json")
            .send(body);
        match reply {
            Ok(mut reply) => {
                let status = reply.status().as_u16();
                let why = reply.body_mut().read_to_string().unwrap_or_default();
                match status {
                    200..=299 => Attempt::Delivered,
                    400 | 401 | 404 | 422 => Attempt::Refused(status, why),
                    _ => Attempt::Failed(format!("{status}: {why}")),
                }
            }
            Err(error) => Attempt::Failed(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partner::sandbox::{EventData, Object};
    use tokio::net::TcpListener;

    fn to(url: String) -> Targets {
        Targets {
            sandbox: Some(url),
            stripe: None,
        }
    }

    fn event(id: &str) -> Event {
        Event {
            id: id.into(),
            kind: "topup.succeeded".into(),
            created: 0,
            data: EventData {
                object: Object {
                    id: "tu_1".into(),
                    object: "topup".into(),
                    amount: 100,
                    currency: "EUR".into(),
                    status: "succeeded".into(),
                    failure_reason: None,
                    checkout_url: None,
                    reference: String::new(),
                },
            },
        }
    }

    /// A receiver that answers `503` to its first `failures` requests and `200` after, and
    /// hands on each signed body it accepted.
    async fn receiver(failures: usize) -> (String, mpsc::UnboundedReceiver<Event>) {
        use hyper::StatusCode;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (accepted, bodies) = mpsc::unbounded_channel();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (accepted, seen) = (accepted.clone(), seen.clone());
                let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                    let accepted = accepted.clone();
                    let seen = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    async move {
                        let signed = crate::web::header(request.headers(), SIGNATURE_HEADER)
                            .map(str::to_owned);
                        let body = crate::web::read_body(request.into_body(), 1 << 16)
                            .await
                            .unwrap();
                        if seen > failures {
                            signature::verify(b"s", signed.as_deref(), &body, unix_now()).unwrap();
                            accepted
                                .send(serde_json::from_slice(&body).unwrap())
                                .unwrap();
                        }
                        let status = match seen <= failures {
                            true => StatusCode::SERVICE_UNAVAILABLE,
                            false => StatusCode::OK,
                        };
                        Ok::<_, std::convert::Infallible>(crate::web::respond(
                            status,
                            "text/plain",
                            "",
                        ))
                    }
                });
                let timeout = std::time::Duration::from_secs(10);
                tokio::spawn(crate::web::serve(stream, timeout, service));
            }
        });
        (url, bodies)
    }

    #[tokio::test]
    async fn duplicated_webhooks_arrive_twice_signed() {
        let (url, mut bodies) = receiver(0).await;
        let switches = Switches {
            duplicate: true,
            ..Switches::default()
        };
        let outbox = start(to(url), "s".into(), switches);
        outbox.send(Outgoing::sandbox(&event("evt_1"))).unwrap();
        let (first, second) = (bodies.recv().await.unwrap(), bodies.recv().await.unwrap());
        assert_eq!((first.id.as_str(), second.id.as_str()), ("evt_1", "evt_1"));
    }

    #[tokio::test]
    async fn a_receiver_that_fails_gets_the_event_again() {
        let (url, mut bodies) = receiver(2).await;
        let outbox = start(to(url), "s".into(), Switches::default());
        outbox.send(Outgoing::sandbox(&event("evt_9"))).unwrap();
        assert_eq!(bodies.recv().await.unwrap().id, "evt_9");
    }

    #[tokio::test]
    async fn shuffled_webhooks_all_arrive() {
        let (url, mut bodies) = receiver(0).await;
        let switches = Switches {
            shuffle: true,
            ..Switches::default()
        };
        let outbox = start(to(url), "s".into(), switches);
        for n in 0..20 {
            outbox
                .send(Outgoing::sandbox(&event(&format!("evt_{n}"))))
                .unwrap();
        }
        let mut ids = Vec::new();
        for _ in 0..20 {
            ids.push(bodies.recv().await.unwrap().id);
        }
        ids.sort();
        let mut sent: Vec<String> = (0..20).map(|n| format!("evt_{n}")).collect();
        sent.sort();
        assert_eq!(ids, sent);
    }
}
