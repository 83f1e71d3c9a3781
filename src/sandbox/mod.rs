//! `quid partner-sandbox`: a payment partner to test against, as a separate process. It keeps
//! top-ups, payouts and refunds in memory and serves, over plain HTTP:
//!
//! - the API quid's adapter calls (`partner::sandbox`): `POST /v1/topups`, `GET
//!   /v1/topups/ID`, `POST /v1/payouts`, `GET /v1/payouts/ID`, `POST /v1/refunds`, each with
//!   `Authorization: Bearer SECRET`, creations with an `Idempotency-Key`;
//! - the hosted checkout page where a person pays a top-up (`/checkout/ID`, `pages.rs`);
//! - webhooks to the configured URL, signed with the same secret (`webhooks.rs`).
//!
//! What happens is chosen by test cards and magic amounts (`book.rs`), and delivery switches
//! make webhooks come twice, out of order or late.

pub mod book;
pub mod pages;
pub mod webhooks;

use crate::partner::sandbox::{ErrorBody, ErrorDetail, Event, NewPayout, NewTopup};
use crate::web::{self, Body};
use book::{Book, Refusal, Step};
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// Largest request body the sandbox reads.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// How the sandbox runs.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub listen: SocketAddr,
    /// Where webhooks go; none are sent without it.
    pub webhook: Option<String>,
    /// Where the events of Stripe-shaped sessions go, signed as Stripe signs.
    pub stripe_webhook: Option<String>,
    /// The API's bearer secret and the webhooks' signing secret.
    pub secret: String,
    /// How checkout links start; `http://LISTEN` when not set.
    pub public_url: Option<String>,
    pub switches: webhooks::Switches,
    /// How long a processing top-up or a payout takes to settle.
    pub settle_after: Duration,
    /// How long a checkout page waits to be paid before its top-up fails as expired.
    pub checkout_expires_after: Duration,
}

/// What every request shares.
struct Shared {
    book: Mutex<Book>,
    secret: String,
    base: String,
    outbox: webhooks::Outbox,
    settle_after: Duration,
    checkout_expires_after: Duration,
}

impl Shared {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        // A panic while holding the lock leaves the book as it was between two changes.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `events`, each in the shape of the API its object was made with.
    fn send(&self, events: Vec<Event>) {
        for event in events {
            let object = &event.data.object.id;
            let outgoing = {
                let book = self.book();
                match book.is_session(object) {
                    true => book::stripe_event_of(&event, book.was_delayed(object))
                        .map(|stripe| webhooks::Outgoing::stripe(&stripe)),
                    false => Some(webhooks::Outgoing::sandbox(&event)),
                }
            };
            // The sender ends only with the runtime.
            if let Some(outgoing) = outgoing {
                let _ = self.outbox.send(outgoing);
            }
        }
    }
}

/// A bound sandbox, ready to serve.
pub struct Sandbox {
    listener: TcpListener,
    config: SandboxConfig,
    base: String,
}

impl Sandbox {
    pub async fn bind(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        if config.secret.is_empty() {
            anyhow::bail!("the sandbox needs a secret: set QUID_PARTNER_SECRET");
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let base = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", listener.local_addr()?),
        };
        Ok(Sandbox {
            listener,
            config,
            base,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where checkout links and the API start.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends webhooks to `url` (for a receiver bound after the sandbox, as in `quid demo`).
    pub fn send_webhooks_to(&mut self, url: String) {
        self.config.webhook = Some(url);
    }

    /// Sends the events of Stripe-shaped sessions to `url`.
    pub fn send_stripe_webhooks_to(&mut self, url: String) {
        self.config.stripe_webhook = Some(url);
    }

    /// Serves until `stop` completes.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let config = self.config;
        let targets = webhooks::Targets {
            sandbox: config.webhook,
            stripe: config.stripe_webhook,
        };
        let outbox = webhooks::start(targets, config.secret.clone(), config.switches);
        let shared = Arc::new(Shared {
            book: Mutex::default(),
            secret: config.secret,
            base: self.base,
            outbox,
            settle_after: config.settle_after,
            checkout_expires_after: config.checkout_expires_after,
        });
        tokio::pin!(stop);
        loop {
            let (stream, _) = tokio::select! {
                _ = &mut stop => return,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            tokio::spawn(serve(stream, Arc::clone(&shared)));
        }
    }
}

/// A reply: status, content type, body.
type Reply = (StatusCode, &'static str, String);

/// How long a request's head may take.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

fn serve(stream: tokio::net::TcpStream, shared: Arc<Shared>) -> impl Future<Output = ()> {
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, std::convert::Infallible>(answer(request, &shared).await) }
    });
    async move {
        if let Err(error) = web::serve(stream, HEAD_TIMEOUT, service).await {
            tracing::debug!(%error, "connection ended");
        }
    }
}

async fn answer(request: Request<Incoming>, shared: &Arc<Shared>) -> Response<Body> {
    let (head, body) = request.into_parts();
    let (status, content_type, body) = match web::read_body(body, MAX_BODY_BYTES).await {
        Ok(body) => route(shared, &head, &body),
        Err(why) => json_error(&Refusal {
            status: 400,
            code: "bad_request",
            message: why.to_string(),
        }),
    };
    web::respond(status, content_type, body)
}

fn route(shared: &Arc<Shared>, head: &Parts, body: &[u8]) -> Reply {
    let path: Vec<&str> = head.uri.path().trim_matches('/').split('/').collect();
    match (head.method.as_str(), path.as_slice()) {
        ("GET", [""]) => html(StatusCode::OK, pages::index()),
        ("GET", ["checkout", id]) => show_checkout(shared, id),
        ("POST", ["checkout", id]) => submit_checkout(shared, id, body),
        ("POST", ["checkout", id, "authenticate"]) => submit_authentication(shared, id, body),
        (_, ["v1", ..]) => match authorized(shared, head) {
            Ok(()) => api(shared, head, &path[1..], body),
            Err(refusal) => json_error(&refusal),
        },
        _ => json_error(&Refusal {
            status: 404,
            code: "not_found",
            message: format!("no {} {}", head.method, head.uri.path()),
        }),
    }
}

fn authorized(shared: &Shared, head: &Parts) -> Result<(), Refusal> {
    let expected = format!("Bearer {}", shared.secret);
    if web::header(&head.headers, "authorization") == Some(expected.as_str()) {
        return Ok(());
    }
    Err(Refusal {
        status: 401,
        code: "unauthorized",
        message: "send Authorization: Bearer SECRET (the sandbox's QUID_PARTNER_SECRET)".into(),
    })
}

#[derive(Deserialize)]
struct NewRefund {
    topup: String,
    amount: i64,
}

fn api(shared: &Arc<Shared>, head: &Parts, path: &[&str], body: &[u8]) -> Reply {
    let key = web::header(&head.headers, "idempotency-key").unwrap_or_default();
    let result = match (head.method.as_str(), path) {
        ("POST", ["topups"]) => parse::<NewTopup>(body).and_then(|order| {
            let created = shared.book().create_topup(key, &order, &shared.base);
            created.map(|(object, events)| {
                shared.send(events);
                expire_later(shared, &object.id);
                object
            })
        }),
        ("POST", ["payouts"]) => parse::<NewPayout>(body).and_then(|order| {
            let created = shared.book().create_payout(key, &order);
            created.map(|(object, events)| {
                shared.send(events);
                later(
                    shared,
                    object.id.clone(),
                    shared.settle_after,
                    Book::settle_payout,
                );
                object
            })
        }),
        ("POST", ["refunds"]) => parse::<NewRefund>(body).and_then(|order| {
            let made = shared.book().refund(&order.topup, order.amount);
            made.map(|(object, events)| {
                shared.send(events);
                object
            })
        }),
        ("POST", ["checkout", "sessions"]) => {
            return stripe_session(shared, key, body);
        }
        ("GET", ["checkout", "sessions", id]) => {
            let book = shared.book();
            return match book.get(id).filter(|_| book.is_session(id)) {
                Some(topup) => json_reply(&book::session_of(topup, book.was_delayed(id))),
                None => stripe_error(404, &format!("No such checkout.session: '{id}'")),
            };
        }
        ("GET", [kind @ ("topups" | "payouts"), id]) => {
            let object = kind.trim_end_matches('s');
            shared
                .book()
                .get(id)
                .filter(|o| o.object == object)
                .cloned()
                .ok_or_else(|| Refusal {
                    status: 404,
                    code: "not_found",
                    message: format!("no {object} {id}"),
                })
        }
        _ => Err(Refusal {
            status: 404,
            code: "not_found",
            message: format!("no {} {}", head.method, head.uri.path()),
        }),
    };
    match result.and_then(|object| serde_json::to_string(&object).map_err(internal)) {
        Ok(json) => (StatusCode::OK, "application/json", json),
        Err(refusal) => json_error(&refusal),
    }
}

/// `POST /v1/checkout/sessions` as Stripe takes it: a form with one line item whose price
/// and quantity make the amount; answered with the session, or an error in Stripe's shape.
fn stripe_session(shared: &Arc<Shared>, key: &str, body: &[u8]) -> Reply {
    let form = form(body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("mode") != "payment" || field("success_url").is_empty() {
        return stripe_error(400, "mode=payment and a success_url are required");
    }
    let number = |name: &str| field(name).parse::<i64>().ok();
    let quantity = number("line_items[0][quantity]").unwrap_or(1);
    let Some(amount) = number("line_items[0][price_data][unit_amount]")
        .and_then(|unit| unit.checked_mul(quantity))
    else {
        return stripe_error(
            400,
            "line_items[0][price_data][unit_amount] must be an integer",
        );
    };
    let order = NewTopup {
        amount,
        currency: field("line_items[0][price_data][currency]").to_ascii_uppercase(),
        reference: field("client_reference_id").to_owned(),
    };
    let created = shared.book().create_session(key, &order, &shared.base);
    match created {
        Ok((topup, events)) => {
            shared.send(events);
            expire_later(shared, &topup.id);
            json_reply(&book::session_of(&topup, false))
        }
        Err(refusal) => stripe_error(refusal.status, &refusal.message),
    }
}

fn json_reply(value: &impl serde::Serialize) -> Reply {
    match serde_json::to_string(value) {
        Ok(json) => (StatusCode::OK, "application/json", json),
        Err(error) => json_error(&internal(error)),
    }
}

/// An error as Stripe writes one: `{"error": {"type", "message"}}`.
fn stripe_error(status: u16, message: &str) -> Reply {
    let body = serde_json::json!({"error": {"type": "invalid_request_error", "message": message}});
    let status = match status {
        404 => StatusCode::NOT_FOUND,
        409 => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, "application/json", body.to_string())
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal {
        status: 400,
        code: "invalid_request",
        message: format!("the body is not the JSON expected: {e}"),
    })
}

fn internal(error: impl std::fmt::Display) -> Refusal {
    Refusal {
        status: 500,
        code: "internal",
        message: error.to_string(),
    }
}

/// Runs `step` on `id` after `delay`, and sends what it says.
fn later(
    shared: &Arc<Shared>,
    id: String,
    delay: Duration,
    step: fn(&mut Book, &str) -> Vec<Event>,
) {
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let events = step(&mut shared.book(), &id);
        shared.send(events);
    });
}

/// A new top-up's page expires if nobody pays it in time (a second creation with the same
/// key starts another timer, which finds it ended or expires it as the first would).
fn expire_later(shared: &Arc<Shared>, id: &str) {
    later(
        shared,
        id.to_owned(),
        shared.checkout_expires_after,
        Book::expire,
    );
}

fn show_checkout(shared: &Shared, id: &str) -> Reply {
    match shared.book().get(id).filter(|o| o.object == "topup") {
        Some(topup) if topup.status == "pending" => {
            html(StatusCode::OK, pages::checkout(topup, None))
        }
        Some(topup) => html(StatusCode::OK, pages::outcome(topup)),
        None => html(
            StatusCode::NOT_FOUND,
            pages::problem(&format!("There is no top-up {id}.")),
        ),
    }
}

fn submit_checkout(shared: &Arc<Shared>, id: &str, body: &[u8]) -> Reply {
    let form = form(body);
    let action = form.get("action").map_or("pay", String::as_str);
    let card = form.get("card").map_or("", String::as_str);
    let step = shared.book().checkout(id, action, card);
    match step {
        Ok(Step::Moved(events)) | Ok(Step::Authenticate(events)) => {
            shared.send(events);
            later(
                shared,
                id.to_owned(),
                shared.settle_after,
                Book::settle_topup,
            );
            show_checkout(shared, id)
        }
        Ok(Step::Invalid(why)) => match shared.book().get(id) {
            Some(topup) => html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::checkout(topup, Some(&why)),
            ),
            None => html(StatusCode::NOT_FOUND, pages::problem(&why)),
        },
        Err(refusal) => page_error(shared, id, &refusal),
    }
}

fn submit_authentication(shared: &Arc<Shared>, id: &str, body: &[u8]) -> Reply {
    let approved = form(body).get("action").map(String::as_str) == Some("complete");
    let done = shared.book().authenticate(id, approved);
    match done {
        Ok(events) => {
            shared.send(events);
            show_checkout(shared, id)
        }
        Err(refusal) => page_error(shared, id, &refusal),
    }
}

/// A refused page step: the top-up as it stands if there is one (paid twice shows "Paid").
fn page_error(shared: &Shared, id: &str, refusal: &Refusal) -> Reply {
    match shared.book().get(id) {
        Some(topup) => html(StatusCode::CONFLICT, pages::outcome(topup)),
        None => html(StatusCode::NOT_FOUND, pages::problem(&refusal.message)),
    }
}

fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn html(status: StatusCode, body: String) -> Reply {
    (status, "text/html; charset=utf-8", body)
}

fn json_error(refusal: &Refusal) -> Reply {
    let body = ErrorBody {
        error: ErrorDetail {
            code: refusal.code.to_owned(),
            message: refusal.message.clone(),
        },
    };
    let status = match refusal.status {
        401 => StatusCode::UNAUTHORIZED,
        404 => StatusCode::NOT_FOUND,
        409 => StatusCode::CONFLICT,
        500 => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let json = serde_json::to_string(&body).unwrap_or_default();
    (status, "application/json", json)
}
