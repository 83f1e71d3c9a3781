//! The payment partners this server works with (`quid serve --partner NAME=URL`): creating
//! top-ups and payouts at them, receiving their webhooks at `POST /webhooks/NAME` on the
//! server's own port, and re-asking them about everything still pending, at start and then
//! now and then, so that a lost webhook is never lost money. What an answer moves is the
//! ledger's (`ledger/funding.rs`).

use super::ServerState;
use super::shutdown::Shutdown;
use crate::ledger::funding::{self, Applied};
use crate::partner::{
    self, Created, PartnerError, PartnerEvent, PayoutOrder, Provider, TopupOrder, WebhookError,
};
use crate::protocol::funding::{
    Funding, FundingId, FundingKind, FundingStatus, partner_key, validate_checkout_url,
};
use crate::protocol::{ApiError, ErrorCode};
use crate::store::funding::StoredFunding;
use crate::web::{self, Body};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// The partners, in the order configured; the first is the default.
#[derive(Clone, Default)]
pub struct Partners(Arc<Vec<Arc<dyn Provider>>>);

impl std::fmt::Debug for Partners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|p| p.name()))
            .finish()
    }
}

impl Partners {
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Partners {
        Partners(Arc::new(providers))
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<dyn Provider>> {
        self.0.iter().find(|p| p.name() == name).cloned()
    }

    /// The partner named, or the first; refused when there is none.
    pub fn choose(&self, name: Option<&str>) -> Result<Arc<dyn Provider>, ApiError> {
        let chosen = match name {
            Some(name) => self.by_name(name),
            None => self.0.first().cloned(),
        };
        chosen.ok_or_else(|| {
            let have: Vec<&str> = self.0.iter().map(|p| p.name()).collect();
            let message = match (name, have.is_empty()) {
                (_, true) => "this server has no payment partner (quid serve --partner)".to_owned(),
                (Some(name), false) => {
                    format!(
                        "no payment partner {name:?}; this server has {}",
                        have.join(", ")
                    )
                }
                (None, false) => unreachable!("a first partner exists when the list is not empty"),
            };
            ApiError::new(ErrorCode::PartnerUnavailable, message)
        })
    }
}

/// A partner's answer whose checkout page is not a web page (a `javascript:` address, one
/// with terminal escapes) is refused here, before anyone is sent there.
fn checked_page(created: Created) -> Result<Created, PartnerError> {
    match created.checkout_url.as_deref().map(validate_checkout_url) {
        Some(Err(why)) => Err(PartnerError::Refused(format!(
            "the partner's answer cannot be used: {why}"
        ))),
        _ => Ok(created),
    }
}

/// Asks the partner to create `stored` (a new top-up or payout, or one whose creation a crash
/// interrupted: the partner's idempotency key finds the first), and records its answer.
/// A refusal ends the funding (a payout's money comes back). An unreachable partner ends a
/// top-up, which nobody can pay without its page, and leaves a payout pending, to be created
/// again by [`follow`]: its money is held meanwhile.
pub async fn create(
    state: &ServerState,
    provider: Arc<dyn Provider>,
    stored: StoredFunding,
) -> Result<Funding, ApiError> {
    let id = stored.funding.id;
    let answer = call_create(provider, &stored).await.and_then(checked_page);
    let (reason, code) = match answer {
        Ok(created) => {
            let recorded = state
                .writer
                .write(move |ctx| {
                    funding::record_reference(
                        ctx,
                        id,
                        &created.reference,
                        created.checkout_url.as_deref(),
                    )
                })
                .await?;
            return Ok(recorded.funding);
        }
        Err(PartnerError::Refused(why)) => (why, ErrorCode::PartnerRefused),
        Err(PartnerError::Unreachable(why)) => {
            tracing::warn!(funding = id.0, why, "payment partner unreachable");
            if stored.funding.kind == FundingKind::Payout {
                return Ok(stored.funding);
            }
            (
                "the payment partner could not be reached; try again later".to_owned(),
                ErrorCode::PartnerUnavailable,
            )
        }
    };
    let failed = reason.clone();
    state
        .writer
        .write(move |ctx| fail_unsent(ctx, id, &failed))
        .await?;
    Err(ApiError::new(code, reason))
}

async fn call_create(
    provider: Arc<dyn Provider>,
    stored: &StoredFunding,
) -> Result<partner::Created, PartnerError> {
    let key = partner_key(stored.user, &stored.key);
    let funding = stored.funding.clone();
    let bank_account = stored.bank_account.clone().unwrap_or_default();
    tokio::task::spawn_blocking(move || match funding.kind {
        FundingKind::Topup => provider.create_topup(&TopupOrder {
            funding: funding.id,
            amount: funding.amount,
            key: &key,
        }),
        FundingKind::Payout => provider.create_payout(&PayoutOrder {
            funding: funding.id,
            amount: funding.amount,
            bank_account: &bank_account,
            key: &key,
        }),
    })
    .await
    .map_err(|e| PartnerError::Unreachable(e.to_string()))?
}

/// Ends a funding the partner never made, unless something else ended it first.
fn fail_unsent(
    ctx: &mut crate::store::writer::WriteCtx,
    id: FundingId,
    reason: &str,
) -> Result<(), ApiError> {
    let stored = ctx.db().funding(id)?;
    if stored.funding.status.is_final() {
        return Ok(());
    }
    funding::finish(ctx, &stored, FundingStatus::Failed, reason)
}

/// Answers `POST /webhooks/NAME`: checks the signature, applies the event, and says how it
/// went (2xx: done or nothing to do; 4xx: refused, do not send it again; 5xx: try again).
pub async fn receive_webhook(request: Request<Incoming>, state: &ServerState) -> Response<Body> {
    let (status, body) = webhook_reply(request, state).await;
    state.metrics.webhooks.add(vec![status_label(status)]);
    let json = serde_json::json!({ "message": body }).to_string();
    web::respond(status, "application/json", json)
}

/// The metric's label for each status [`webhook_reply`] answers with.
fn status_label(status: StatusCode) -> &'static str {
    match status {
        StatusCode::OK => "200",
        StatusCode::BAD_REQUEST => "400",
        StatusCode::UNAUTHORIZED => "401",
        StatusCode::NOT_FOUND => "404",
        StatusCode::METHOD_NOT_ALLOWED => "405",
        StatusCode::UNPROCESSABLE_ENTITY => "422",
        _ => "503",
    }
}

async fn webhook_reply(request: Request<Incoming>, state: &ServerState) -> (StatusCode, String) {
    let (head, body) = request.into_parts();
    let name = head.uri.path().trim_start_matches("/webhooks/");
    let Some(provider) = state.config.partners.by_name(name) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no payment partner {name:?} here"),
        );
    };
    if head.method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "webhooks are POSTed".into());
    }
    let body = match web::read_body(body, partner::MAX_WEBHOOK_BYTES).await {
        Ok(body) => body,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()),
    };
    let signature = web::header(&head.headers, provider.signature_header());
    let event = match provider.webhook(signature, &body, partner::unix_now()) {
        Ok(Some(event)) => event,
        Ok(None) => return (StatusCode::OK, "ignored: not an event quid follows".into()),
        Err(error) => {
            tracing::warn!(partner = name, %error, "webhook refused; nothing moved");
            let status = match error {
                WebhookError::Signature(_) => StatusCode::UNAUTHORIZED,
                WebhookError::Unreadable(_) => StatusCode::BAD_REQUEST,
            };
            return (status, error.to_string());
        }
    };
    match apply(state, event).await {
        Ok(applied) => (StatusCode::OK, format!("{applied:?}")),
        Err(error) => {
            tracing::warn!(partner = name, %error, "webhook event refused; nothing moved");
            let status = match error.code {
                ErrorCode::NotFound => StatusCode::NOT_FOUND,
                ErrorCode::InvalidArgument => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            (status, error.message)
        }
    }
}

/// Applies a partner's word, once. Two writers ending the same funding at once (PostgreSQL)
/// leave one `conflict`, which is the other having done it: nothing left to do.
pub async fn apply(state: &ServerState, event: PartnerEvent) -> Result<Applied, ApiError> {
    let result = state
        .writer
        .write(move |ctx| funding::apply_event(ctx, &event))
        .await;
    match result {
        Err(error) if error.code == ErrorCode::Conflict => Ok(Applied::Duplicate),
        other => other,
    }
}

/// Pending fundings looked at per read.
const PAGE: u32 = 100;

/// A funding without a partner reference this old had its creation interrupted (a request
/// in flight is younger: a call gives up after `partner::CALL_TIMEOUT`).
const INTERRUPTED_AFTER: Duration = Duration::from_secs(30);

/// Asks the partners about every pending funding, at start and every `recheck` after:
/// webhooks may be lost, and a server that was down missed some.
pub async fn follow(state: Arc<ServerState>, recheck: Duration, mut shutdown: Shutdown) {
    if state.config.partners.0.is_empty() {
        return;
    }
    let mut every = tokio::time::interval(recheck);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait() => return,
        }
        if let Err(error) = recheck_pending(&state).await {
            tracing::warn!(%error, "re-asking payment partners failed");
        }
    }
}

async fn recheck_pending(state: &ServerState) -> Result<(), ApiError> {
    let mut after = FundingId(0);
    loop {
        let page = state
            .store
            .read(move |db| db.pending_fundings(after, PAGE))
            .await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = *last;
        for id in page {
            let stored = state.store.read(move |db| db.funding(id)).await?;
            recheck(state, stored).await;
        }
    }
}

/// Asks the partner how one pending funding stands, and applies the answer.
async fn recheck(state: &ServerState, stored: StoredFunding) {
    let funding = &stored.funding;
    let Some(provider) = state.config.partners.by_name(&funding.provider) else {
        tracing::warn!(
            funding = funding.id.0,
            partner = funding.provider,
            "pending with a partner no longer configured"
        );
        return;
    };
    let Some(reference) = stored.provider_ref.clone() else {
        let age = crate::protocol::TimestampMs::now().0 - funding.created_at.0;
        if age >= INTERRUPTED_AFTER.as_millis() as i64 {
            let id = funding.id;
            if let Err(error) = create(state, provider, stored).await {
                tracing::warn!(funding = id.0, %error, "re-creating an interrupted funding failed");
            }
        }
        return;
    };
    let kind = funding.kind;
    let asked = tokio::task::spawn_blocking(move || provider.fetch(kind, &reference)).await;
    match asked {
        Ok(Ok(event)) if event.status.is_final() => {
            if let Err(error) = apply(state, event).await {
                tracing::warn!(funding = funding.id.0, %error, "partner's answer refused");
            }
        }
        Ok(Ok(_still_pending)) => {}
        Ok(Err(error)) => tracing::warn!(funding = funding.id.0, %error, "cannot ask the partner"),
        Err(error) => tracing::warn!(%error, "partner call panicked"),
    }
}
