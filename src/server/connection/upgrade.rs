//! From an accepted TCP stream to a websocket with an identity: TLS if the server has a
//! certificate, the HTTP request head (plain endpoints such as `/healthz` are answered here and
//! end), the bearer token's lookup, then the websocket handshake, which refuses a bad token
//! with HTTP 401.

use crate::protocol::{ErrorCode, TimestampMs, UNAVAILABLE_RETRY, User, WS_PATH};
use crate::server::transport::{self, Rewind};
use crate::server::{ServerState, auth, http};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as HttpRequest, Response,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The websocket of one client.
pub(super) type Socket = WebSocketStream<Rewind>;

/// Bytes read from the socket at a time. Frames larger than this are assembled across reads,
/// so a small chunk costs nothing but keeps an idle connection's footprint small.
const READ_CHUNK_BYTES: usize = 4 * 1024;

/// Who the upgrade's Authorization header says this connection is.
pub(super) struct Identity {
    pub user: Option<User>,
    pub token_hash: Option<String>,
}

/// What came in on a new TCP connection.
#[allow(clippy::large_enum_variant)] // One lives per connection, briefly; boxing buys nothing.
pub(super) enum Opened {
    Websocket(Socket, Identity),
    /// A plain HTTP request, already answered.
    Http,
}

/// Takes a new connection as far as a logged-in (or anonymous) websocket.
pub(super) async fn open(tcp: TcpStream, state: &ServerState) -> anyhow::Result<Opened> {
    let mut stream = transport::secure(tcp, state.tls.as_ref()).await?;
    let head = transport::read_head(&mut stream).await?;
    if head.route().starts_with("/webhooks/") {
        crate::server::partners::receive_webhook(stream, head, state).await?;
        return Ok(Opened::Http);
    }
    if let Some(endpoint) = http::Endpoint::public(&head.path, state) {
        http::answer(stream, endpoint, state).await?;
        return Ok(Opened::Http);
    }
    // A plain request for anything else (`/metrics` served apart, a typo) gets its 404 here:
    // the websocket handshake would only drop it.
    if !head
        .header("upgrade")
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
    {
        http::not_found(stream).await?;
        return Ok(Opened::Http);
    }
    // Before the handshake, whose callback cannot await a database read.
    let verdict = authenticate(head.header("authorization"), state).await;
    let (socket, identity) = upgrade(Rewind::new(head.bytes, stream), state, verdict).await?;
    Ok(Opened::Websocket(socket, identity))
}

/// Why an upgrade is refused: an HTTP status and a sentence for the client to show.
type Refusal = (StatusCode, String);

/// Who the Authorization header (`Bearer TOKEN`) says the client is; anonymous without one.
async fn authenticate(
    authorization: Option<&str>,
    state: &ServerState,
) -> Result<Identity, Refusal> {
    let Some(header) = authorization else {
        // Anonymous: may only register and log in.
        return Ok(Identity {
            user: None,
            token_hash: None,
        });
    };
    let token = header.strip_prefix("Bearer ").ok_or_else(|| {
        (
            StatusCode::UNAUTHORIZED,
            "Authorization must be \"Bearer TOKEN\"".to_owned(),
        )
    })?;
    let hash = auth::token_hash(token.trim());
    let lookup = hash.clone();
    let user = state
        .store
        .read(move |db| db.user_for_token(&lookup))
        .await
        .map_err(|error| match error.code {
            ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, error.message),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "store failure".to_owned(),
            ),
        })?
        .ok_or_else(|| {
            (
                StatusCode::UNAUTHORIZED,
                "invalid or revoked token; log in again".to_owned(),
            )
        })?;
    let (user, last_used) = user;
    let idle = state.config.session_idle;
    let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
    if TimestampMs::now().0.saturating_sub(last_used.0) > idle_ms {
        return Err((
            StatusCode::UNAUTHORIZED,
            format!(
                "this session expired after {} days without use; log in again",
                idle.as_secs() / 86_400
            ),
        ));
    }
    Ok(Identity {
        user: Some(user),
        token_hash: Some(hash),
    })
}

// tungstenite's handshake callback dictates the (large) rejection type.
#[allow(clippy::result_large_err)]
async fn upgrade(
    stream: Rewind,
    state: &ServerState,
    verdict: Result<Identity, Refusal>,
) -> Result<(Socket, Identity), tokio_tungstenite::tungstenite::Error> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(state.config.max_frame_bytes))
        .max_frame_size(Some(state.config.max_frame_bytes))
        .read_buffer_size(READ_CHUNK_BYTES)
        // Write each frame at once; the sending task batches nothing on purpose.
        .write_buffer_size(0);
    let mut identity = None;
    let check = |request: &HttpRequest, response: Response| {
        if request.uri().path() != WS_PATH {
            return Err(refuse((
                StatusCode::NOT_FOUND,
                format!("quid speaks its protocol at {WS_PATH}"),
            )));
        }
        identity = Some(verdict.map_err(refuse)?);
        Ok(response)
    };
    let socket =
        tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config)).await?;
    // The callback ran and accepted, or the handshake failed above.
    let identity = identity.ok_or(tokio_tungstenite::tungstenite::Error::ConnectionClosed)?;
    Ok((socket, identity))
}

/// The refusal as HTTP; a 503 says when to come back (`Retry-After`, in seconds).
fn refuse((status, body): Refusal) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(body));
    *response.status_mut() = status;
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert("retry-after", UNAVAILABLE_RETRY.as_secs().into());
    }
    response
}
