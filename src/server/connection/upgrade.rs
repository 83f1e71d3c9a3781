//! From an accepted TCP stream to a websocket with an identity: TLS if the server has a
//! certificate, then HTTP/1.1 (`web.rs`, on hyper). Plain requests (`/healthz`, webhooks, a
//! files, a 404 for anything else) are answered there, one after another on the same connection; an
//! upgrade to a websocket at `/v1` has its bearer token looked up first, a bad one refused
//! with HTTP 401 before any frame, and then hyper hands the connection's bytes over.

use crate::protocol::files::FILES_PATH;
use crate::protocol::{UNAVAILABLE_RETRY, WS_PATH};
use crate::server::auth::{Identity, Refusal, authenticate};
use crate::server::{ServerState, http, transport};
use crate::web::{self, Body};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue, RETRY_AFTER, SEC_WEBSOCKET_ACCEPT, UPGRADE};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// The websocket of one client.
pub(super) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Bytes read from the socket at a time. Frames larger than this are assembled across reads,
/// so a small chunk costs nothing but keeps an idle connection's footprint small.
const READ_CHUNK_BYTES: usize = 4 * 1024;

/// An upgrade the HTTP side accepted (its 101 sent): the connection's bytes to come, and who
/// they are from.
struct Accepted {
    upgrade: OnUpgrade,
    identity: Identity,
}

/// Where the request that upgrades leaves its [`Accepted`] for the connection's task.
type Handoff = Arc<Mutex<Option<oneshot::Sender<Accepted>>>>;

/// Takes a new connection as far as a logged-in (or anonymous) websocket, answering plain HTTP
/// requests on the way; `None` when the connection ended without one.
pub(super) async fn open(
    tcp: TcpStream,
    state: &Arc<ServerState>,
    within: std::time::Duration,
) -> anyhow::Result<Option<(Socket, Identity)>> {
    let stream = tokio::time::timeout(within, transport::secure(tcp, state.tls.as_ref())).await??;
    let (accepted, upgraded) = oneshot::channel();
    let handoff: Handoff = Arc::new(Mutex::new(Some(accepted)));
    let serving = Arc::clone(state);
    let service = hyper::service::service_fn(move |request| {
        let (state, handoff) = (Arc::clone(&serving), Arc::clone(&handoff));
        async move { Ok::<_, std::convert::Infallible>(route(request, &state, &handoff).await) }
    });
    web::serve(stream, within, service).await?;
    // The service is gone with the connection: no sender left means no upgrade.
    let Ok(accepted) = upgraded.await else {
        return Ok(None);
    };
    let upgraded = tokio::time::timeout(within, accepted.upgrade).await??;
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config(state)))
            .await;
    Ok(Some((socket, accepted.identity)))
}

fn config(state: &ServerState) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(state.config.max_frame_bytes))
        .max_frame_size(Some(state.config.max_frame_bytes))
        .read_buffer_size(READ_CHUNK_BYTES)
        // Write each frame at once; the sending task batches nothing on purpose.
        .write_buffer_size(0)
}

/// What the server's port serves: webhooks, the plain endpoints, and the websocket.
async fn route(
    request: Request<Incoming>,
    state: &Arc<ServerState>,
    handoff: &Handoff,
) -> Response<Body> {
    let path = request.uri().path();
    let under_files = path.strip_prefix(FILES_PATH);
    if under_files.is_some_and(|rest| rest.is_empty() || rest.starts_with('/')) {
        return crate::server::files::serve(request, state).await;
    }
    if path.starts_with("/webhooks/") {
        return crate::server::partners::receive_webhook(request, state).await;
    }
    if let Some(endpoint) = http::Endpoint::public(path, state) {
        return http::answer(endpoint, state).await;
    }
    // A plain request for anything else (`/metrics` served apart, a typo) gets its 404.
    if !web::header(request.headers(), "upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    {
        return http::not_found();
    }
    match accept(request, state).await {
        Ok(accepted) => switch(accepted, handoff),
        Err(refusal) => refuse(refusal),
    }
}

/// Checks a websocket upgrade: the path, the handshake's headers, the token.
async fn accept(
    mut request: Request<Incoming>,
    state: &ServerState,
) -> Result<(Accepted, String), Refusal> {
    if request.uri().path() != WS_PATH {
        return Err((
            StatusCode::NOT_FOUND,
            format!("quid speaks its protocol at {WS_PATH}"),
        ));
    }
    let headers = request.headers();
    if web::header(headers, "sec-websocket-version") != Some("13") {
        return Err((
            StatusCode::UPGRADE_REQUIRED,
            "quid speaks websocket version 13".to_owned(),
        ));
    }
    let Some(key) = web::header(headers, "sec-websocket-key") else {
        return Err((
            StatusCode::BAD_REQUEST,
            "a websocket upgrade needs Sec-WebSocket-Key".to_owned(),
        ));
    };
    let answer = derive_accept_key(key.as_bytes());
    let identity = authenticate(web::header(headers, "authorization"), state).await?;
    let upgrade = hyper::upgrade::on(&mut request);
    Ok((Accepted { upgrade, identity }, answer))
}

/// Answers an accepted upgrade with 101, leaving the rest to the connection's task.
fn switch((accepted, answer): (Accepted, String), handoff: &Handoff) -> Response<Body> {
    // A poisoned lock still holds the sender; nothing half-written is behind it.
    let sender = handoff.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(sender) = sender else {
        return refuse((
            StatusCode::BAD_REQUEST,
            "this connection is already a websocket".to_owned(),
        ));
    };
    if sender.send(accepted).is_err() {
        return refuse((
            StatusCode::SERVICE_UNAVAILABLE,
            "the connection is closing".to_owned(),
        ));
    }
    let mut response = web::respond(StatusCode::SWITCHING_PROTOCOLS, "text/plain", "");
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(answer) = HeaderValue::from_str(&answer) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, answer);
    }
    response
}

/// The refusal as HTTP; a 503 says when to come back (`Retry-After`, in seconds).
fn refuse((status, body): Refusal) -> Response<Body> {
    let mut response = web::respond(status, "text/plain; charset=utf-8", body);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, UNAVAILABLE_RETRY.as_secs().into());
    }
    response
}
