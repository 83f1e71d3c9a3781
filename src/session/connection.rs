//! One websocket connection to a quid server, seen as requests with replies plus a stream of
//! pushed events. A task owns the socket; handles queue requests to it and wait for the reply
//! matched by id. When the socket dies every waiting request fails with `Disconnected`.

use crate::protocol::requests;
use crate::protocol::{
    ApiError, ConversationId, Event, PROTOCOL_VERSION, Position, Request, RequestBody, RequestId,
    Seq, ServerFrame, User, WS_PATH, results,
};
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use url::Url;

/// How often the client pings; the server answers, proving the link is alive.
const PING_INTERVAL: Duration = Duration::from_secs(15);
/// Nothing heard for this long (the server pings every 20 s) means the link is dead.
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Requests queued for the socket task.
const REQUEST_QUEUE: usize = 64;
/// Pushed events buffered for the consumer; when full the socket is not read (backpressure).
const PUSHED_QUEUE: usize = 1024;

/// Where a client resumes the event streams: the last seq of its own stream it holds, and the
/// last position it holds in each conversation (one left out is replayed from where the user
/// joined it).
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    pub seq: Seq,
    pub positions: Vec<(ConversationId, Position)>,
}

impl Resume {
    /// Everything the server holds for the user.
    pub fn everything() -> Resume {
        Resume {
            seq: Seq::ZERO,
            positions: Vec::new(),
        }
    }
}

/// What the server pushes, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// An event of the user's own stream.
    Event(Seq, Event),
    /// An event of a conversation's log.
    ConversationEvent(ConversationId, Position, Event),
    CaughtUp(Seq),
    /// Ephemeral: someone is typing.
    Typing(ConversationId, User),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    #[error("the server refused the session token: {0}")]
    Unauthorized(String),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The server answers but cannot serve for now (HTTP 503: its database restarts); it
    /// said when to come back.
    #[error("{url} cannot serve for now (HTTP 503: its database is away); try again in {} s", .retry_after.as_secs())]
    Unavailable { url: String, retry_after: Duration },
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the connection to the server was lost")]
    Disconnected,
    #[error("the server sent a reply quid does not understand: {0}")]
    BadReply(String),
}

type Reply = Result<serde_json::Value, ApiError>;

/// A handle to the connection; clones share it. The socket closes when the last one is dropped.
#[derive(Clone)]
pub struct Connection {
    requests: mpsc::Sender<(RequestBody, oneshot::Sender<Reply>)>,
}

impl Connection {
    /// Opens a websocket to `server` (a ws:// or wss:// URL), with `token` as the bearer if
    /// given. A wss:// server's certificate must chain to the system's roots.
    pub async fn open(
        server: &Url,
        token: Option<&str>,
    ) -> Result<(Connection, mpsc::Receiver<Pushed>), ConnectError> {
        Self::open_trusting(server, None, token).await
    }

    /// As [`Connection::open`], but a wss:// server's certificate must chain to the CA
    /// certificates in `ca_file` (a private CA) when one is given.
    pub async fn open_trusting(
        server: &Url,
        ca_file: Option<&Path>,
        token: Option<&str>,
    ) -> Result<(Connection, mpsc::Receiver<Pushed>), ConnectError> {
        let url = endpoint(server);
        let unreachable = |reason: String| ConnectError::Unreachable {
            url: url.to_string(),
            reason,
        };
        let connector = match url.scheme() {
            "wss" => Connector::Rustls(
                crate::tls::client_config(ca_file).map_err(|e| unreachable(e.to_string()))?,
            ),
            _ => Connector::Plain,
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| unreachable(e.to_string()))?;
        if let Some(token) = token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                ConnectError::Unauthorized("the saved token is not valid text".into())
            })?;
            request.headers_mut().insert("authorization", value);
        }
        let (socket, _) = match tokio_tungstenite::connect_async_tls_with_config(
            request,
            None,
            true,
            Some(connector),
        )
        .await
        {
            Ok(connected) => connected,
            Err(WsError::Http(response)) if response.status() == 401 => {
                let body = response
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                return Err(ConnectError::Unauthorized(body));
            }
            Err(WsError::Http(response)) if response.status() == 503 => {
                return Err(ConnectError::Unavailable {
                    url: url.to_string(),
                    retry_after: retry_after(response.headers()),
                });
            }
            Err(WsError::Http(response)) => {
                return Err(unreachable(format!("HTTP {}", response.status())));
            }
            Err(error) => return Err(unreachable(explain_connect_error(&error, ca_file))),
        };
        let (requests, requests_rx) = mpsc::channel(REQUEST_QUEUE);
        let (pushed_tx, pushed) = mpsc::channel(PUSHED_QUEUE);
        tokio::spawn(drive(socket, requests_rx, pushed_tx));
        Ok((Connection { requests }, pushed))
    }

    /// Sends a request and waits for its reply, decoded as `T`.
    pub async fn request<T: DeserializeOwned>(&self, body: RequestBody) -> Result<T, RequestError> {
        let value = self.request_value(body).await?;
        serde_json::from_value(value).map_err(|e| RequestError::BadReply(e.to_string()))
    }

    pub async fn request_value(
        &self,
        body: RequestBody,
    ) -> Result<serde_json::Value, RequestError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((body, reply))
            .await
            .map_err(|_| RequestError::Disconnected)?;
        match answer.await {
            Ok(reply) => Ok(reply?),
            Err(_) => Err(RequestError::Disconnected),
        }
    }

    /// The hello: negotiates the version and, with `resume`, starts the event streams.
    pub async fn hello(&self, resume: Option<Resume>) -> Result<results::Hello, RequestError> {
        let (resume_after, positions) = match resume {
            Some(Resume { seq, positions }) => (Some(seq), positions),
            None => (None, Vec::new()),
        };
        self.request(RequestBody::Hello(requests::Hello {
            version: PROTOCOL_VERSION,
            resume_after,
            positions,
            client: Some(format!("quid/{}", env!("CARGO_PKG_VERSION"))),
        }))
        .await
    }
}

/// The shortest and longest waits a server's `Retry-After` gets: the number comes from the
/// network.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long a 503 asks the client to wait: its `Retry-After` in seconds (the HTTP-date form
/// is not sent by quid), within [`MIN_RETRY_AFTER`] and [`MAX_RETRY_AFTER`]; quid's own
/// default without one.
fn retry_after(headers: &tokio_tungstenite::tungstenite::http::HeaderMap) -> Duration {
    headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(crate::protocol::UNAVAILABLE_RETRY, Duration::from_secs)
        .clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER)
}

/// The server URL with the protocol's path, unless the profile already names a path.
/// The error, with what to do about the one a person can fix: an untrusted certificate.
fn explain_connect_error(error: &WsError, ca_file: Option<&Path>) -> String {
    if let Some(tls) = tls_error(error) {
        return crate::tls::explain(tls, ca_file);
    }
    if let WsError::Io(io) = error {
        return match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "nothing answers there (connection refused): is the server running?".to_owned()
            }
            std::io::ErrorKind::TimedOut => "no answer (timed out)".to_owned(),
            _ => io.to_string(),
        };
    }
    error.to_string()
}

/// The TLS error under `error`: tungstenite's own, or rustls's inside an I/O error, as
/// tokio-rustls reports a failed handshake.
fn tls_error(error: &WsError) -> Option<&rustls::Error> {
    match error {
        WsError::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        WsError::Tls(tokio_tungstenite::tungstenite::error::TlsError::Rustls(tls)) => Some(tls),
        _ => None,
    }
}

fn endpoint(server: &Url) -> Url {
    let mut url = server.clone();
    if url.path().is_empty() || url.path() == "/" {
        url.set_path(WS_PATH);
    }
    url
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn drive(
    mut socket: Socket,
    mut requests: mpsc::Receiver<(RequestBody, oneshot::Sender<Reply>)>,
    pushed: mpsc::Sender<Pushed>,
) {
    let mut waiting: HashMap<RequestId, oneshot::Sender<Reply>> = HashMap::new();
    let mut next_id = 1u64;
    let mut ping = tokio::time::interval(PING_INTERVAL);
    loop {
        tokio::select! {
            request = requests.recv() => {
                let Some((body, reply)) = request else { break };
                let id = RequestId(next_id);
                next_id += 1;
                let Ok(text) = serde_json::to_string(&Request { id, body }) else { continue };
                if socket.send(Message::text(text)).await.is_err() { return; }
                waiting.insert(id, reply);
            }
            incoming = tokio::time::timeout(IDLE_TIMEOUT, socket.next()) => {
                let text = match incoming {
                    Ok(Some(Ok(Message::Text(text)))) => text,
                    Ok(Some(Ok(Message::Close(frame)))) => {
                        tracing::info!(?frame, "server closed the connection");
                        return;
                    }
                    Ok(Some(Ok(_))) => continue,
                    Ok(Some(Err(error))) => {
                        tracing::info!(%error, "connection failed");
                        return;
                    }
                    Ok(None) => return,
                    Err(_) => {
                        tracing::info!("server silent past the idle timeout");
                        return;
                    }
                };
                match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(frame) => {
                        if !route(frame, &mut waiting, &pushed).await { return; }
                    }
                    Err(error) => tracing::warn!(%error, "unreadable frame from server"),
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() { return; }
            }
        }
    }
    let _ = socket.close(None).await;
}

/// Delivers one frame to its waiting request or the pushed stream. False: consumer gone.
async fn route(
    frame: ServerFrame,
    waiting: &mut HashMap<RequestId, oneshot::Sender<Reply>>,
    pushed: &mpsc::Sender<Pushed>,
) -> bool {
    match frame {
        ServerFrame::Ok { id, result } => {
            if let Some(reply) = waiting.remove(&id) {
                let _ = reply.send(Ok(result));
            }
            true
        }
        ServerFrame::Error {
            id,
            code,
            message,
            retry_after_ms,
        } => {
            match id.and_then(|id| waiting.remove(&id)) {
                Some(reply) => {
                    let mut error = ApiError::new(code, message);
                    error.retry_after_ms = retry_after_ms;
                    let _ = reply.send(Err(error));
                }
                None => tracing::warn!(%code, %message, "error from server"),
            }
            true
        }
        ServerFrame::Event { seq, event } => pushed.send(Pushed::Event(seq, event)).await.is_ok(),
        ServerFrame::ConversationEvent {
            conversation_id,
            pos,
            event,
        } => pushed
            .send(Pushed::ConversationEvent(conversation_id, pos, event))
            .await
            .is_ok(),
        ServerFrame::CaughtUp { seq } => pushed.send(Pushed::CaughtUp(seq)).await.is_ok(),
        ServerFrame::Typing {
            conversation_id,
            user,
        } => pushed
            .send(Pushed::Typing(conversation_id, user))
            .await
            .is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::http::HeaderMap;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", value.parse().unwrap());
        headers
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_kept_within_bounds() {
        assert_eq!(retry_after(&with_retry_after("5")), Duration::from_secs(5));
        assert_eq!(
            retry_after(&with_retry_after(" 7 ")),
            Duration::from_secs(7)
        );
        assert_eq!(retry_after(&with_retry_after("0")), MIN_RETRY_AFTER);
        assert_eq!(retry_after(&with_retry_after("86400")), MAX_RETRY_AFTER);
        // quid never sends the HTTP-date form; a server that does gets quid's own pause.
        let date = with_retry_after("Wed, 21 Oct 2026 07:28:00 GMT");
        assert_eq!(retry_after(&date), crate::protocol::UNAVAILABLE_RETRY);
        assert_eq!(
            retry_after(&HeaderMap::new()),
            crate::protocol::UNAVAILABLE_RETRY
        );
    }
}
