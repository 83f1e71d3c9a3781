//! Plain HTTP on the server's port, next to the websocket at `/v1`: `GET /healthz` (the store
//! answers a read) and `GET /metrics` (Prometheus text). One request per connection.

use super::ServerState;
use super::transport::Stream;
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
}

pub async fn answer(
    mut stream: Stream,
    endpoint: Endpoint,
    state: &ServerState,
) -> std::io::Result<()> {
    let (status, content_type, body) = match endpoint {
        Endpoint::Healthz => match state.store.read(|db| db.ping()).await {
            Ok(_) => ("200 OK", "text/plain", "ok\n".to_owned()),
            Err(_) => (
                "503 Service Unavailable",
                "text/plain",
                "store unavailable\n".to_owned(),
            ),
        },
        Endpoint::Metrics => (
            "200 OK",
            "text/plain; version=0.0.4",
            super::metrics::render(state),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
