//! Plain HTTP on the server's port, next to the websocket at `/v1`: `GET /healthz` (the store
//! answers a read) and `GET /metrics` (Prometheus text). With
//! `--metrics-listen`, both are served on that address instead, and `/metrics` is not on the
//! public port (its figures say how busy the server is and who is refused).

use super::ServerState;
use crate::protocol::UNAVAILABLE_RETRY;
use crate::web::{self, Body};
use hyper::body::Incoming;
use hyper::header::RETRY_AFTER;
use hyper::{Request, Response, StatusCode};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Endpoint {
    Healthz,
    Metrics,
}

impl Endpoint {
    /// The endpoint at `path` (a query string is ignored); `None` for anything else.
    pub fn at(path: &str) -> Option<Endpoint> {
        match path.split('?').next() {
            Some("/healthz") => Some(Endpoint::Healthz),
            Some("/metrics") => Some(Endpoint::Metrics),
            _ => None,
        }
    }

    /// As [`Endpoint::at`] on the public port, where `/metrics` is not served when it has an
    /// address of its own.
    pub fn public(path: &str, state: &ServerState) -> Option<Endpoint> {
        Endpoint::at(path)
            .filter(|e| *e != Endpoint::Metrics || state.config.metrics_listen.is_none())
    }
}

/// Serves `/metrics` and `/healthz` on `listener`, plain HTTP, until shutdown; anything else
/// gets 404.
pub async fn serve_apart(
    listener: tokio::net::TcpListener,
    state: Arc<ServerState>,
    mut shutdown: super::shutdown::Shutdown,
) {
    loop {
        let (tcp, _) = tokio::select! {
            _ = shutdown.wait() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
        };
        let state = Arc::clone(&state);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let state = Arc::clone(&state);
            async move {
                Ok::<_, std::convert::Infallible>(match Endpoint::at(request.uri().path()) {
                    Some(endpoint) => answer(endpoint, &state).await,
                    None => not_found(),
                })
            }
        });
        tokio::spawn(web::serve(tcp, HEAD_TIMEOUT, service));
    }
}

/// How long a request's head may take on the metrics address.
const HEAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// 404 for a plain HTTP request quid does not serve.
pub fn not_found() -> Response<Body> {
    web::respond(
        StatusCode::NOT_FOUND,
        "text/plain",
        "not found: quid speaks its protocol at /v1, and serves /healthz and /metrics\n",
    )
}

pub async fn answer(endpoint: Endpoint, state: &ServerState) -> Response<Body> {
    match endpoint {
        Endpoint::Healthz => match state.store.read(|db| db.ping()).await {
            Ok(_) => web::respond(StatusCode::OK, "text/plain", "ok\n"),
            Err(_) => {
                let mut response = web::respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "store unavailable: the database cannot be reached\n",
                );
                // Not ready: a balancer sends no one here until it answers again.
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, UNAVAILABLE_RETRY.as_secs().into());
                response
            }
        },
        Endpoint::Metrics => web::respond(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            super::metrics::render(state),
        ),
    }
}
