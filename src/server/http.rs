//! Plain HTTP on the server's port, next to the websocket at `/v1`: `GET /healthz` (the store
//! answers a read) and `GET /metrics` (Prometheus text). One request per connection. With
//! `--metrics-listen`, both are served on that address instead, and `/metrics` is not on the
//! public port (its figures say how busy the server is and who is refused).

use super::ServerState;
use super::transport::Stream;
use crate::protocol::UNAVAILABLE_RETRY;
use tokio::io::AsyncWriteExt;

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
    state: std::sync::Arc<ServerState>,
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
        let state = std::sync::Arc::clone(&state);
        tokio::spawn(async move {
            let mut stream: Stream = Box::new(tcp);
            let read = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                crate::http::read_head(&mut stream),
            );
            let Ok(Ok(head)) = read.await else { return };
            let _ = match Endpoint::at(&head.path) {
                Some(endpoint) => answer(stream, endpoint, &state).await,
                None => not_found(stream).await,
            };
        });
    }
}

/// 404 for a plain HTTP request quid does not serve.
pub async fn not_found(mut stream: Stream) -> std::io::Result<()> {
    let body = "not found: quid speaks its protocol at /v1, and serves /healthz and /metrics\n";
    let response = format!(
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

pub async fn answer(
    mut stream: Stream,
    endpoint: Endpoint,
    state: &ServerState,
) -> std::io::Result<()> {
    let mut extra = String::new();
    let (status, content_type, body) = match endpoint {
        Endpoint::Healthz => match state.store.read(|db| db.ping()).await {
            Ok(_) => ("200 OK", "text/plain", "ok\n".to_owned()),
            Err(_) => {
                // Not ready: a balancer sends no one here until it answers again.
                extra = format!("Retry-After: {}\r\n", UNAVAILABLE_RETRY.as_secs());
                (
                    "503 Service Unavailable",
                    "text/plain",
                    "store unavailable: the database cannot be reached\n".to_owned(),
                )
            }
        },
        Endpoint::Metrics => (
            "200 OK",
            "text/plain; version=0.0.4",
            super::metrics::render(state),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
