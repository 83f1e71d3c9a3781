//! One client connection, from the TCP accept to the close.
//!
//! `upgrade.rs` takes the connection through TLS and the HTTP upgrade, which checks the bearer
//! token (a bad one gets HTTP 401 before any frame). Then a reader (this task) parses frames
//! and answers requests one at a time, in order, and a writer task owns the socket's sending
//! half: replies, replayed events, live events and pings all pass through it, so they reach the
//! client in the order they were queued. A connection opened with a token closes (4001) when
//! that token is revoked.

pub mod limit;
mod outgoing;
mod upgrade;

use super::ServerState;
use super::auth::Identity;
use super::requests::{Caller, dispatch};
use super::revocation::Watch;
use super::shutdown::Shutdown;
use crate::protocol::requests;
use crate::protocol::{
    ApiError, ConversationId, ErrorCode, PROTOCOL_VERSION, Position, Request, RequestBody,
    RequestId, Seq, ServerFrame, User, results,
};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter, clock::Clock};
use outgoing::{Outgoing, write_loop};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, error::CapacityError};
use upgrade::Socket;

/// Replies and replayed events waiting for the writer task.
const REPLY_QUEUE: usize = 64;

/// Events read from the store per query while replaying a backlog.
const REPLAY_PAGE: u32 = 500;

/// A client that has not finished TLS, or a request's head, this long after it was due is
/// dropped; so is one that has been sent its 101 and does not take it up.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Close code: the session's token was revoked (logout elsewhere, `revoke_session`, an admin).
pub const CLOSE_REVOKED: u16 = 4001;

pub async fn serve(tcp: TcpStream, peer: SocketAddr, state: Arc<ServerState>, shutdown: Shutdown) {
    let Some(_slot) = state.per_address.claim(peer.ip()) else {
        state
            .metrics
            .connections_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(%peer, "refused: too many connections from this address");
        return;
    };
    let (socket, identity) = match upgrade::open(tcp, &state, HANDSHAKE_TIMEOUT).await {
        Ok(Some(opened)) => opened,
        Ok(None) => return,
        Err(error) => {
            tracing::debug!(%peer, %error, "connection ended before a websocket");
            return;
        }
    };
    let _open = state.metrics.opened();
    let revocation = match &identity.token_hash {
        Some(hash) => match watch_token(&state, hash, peer.ip()).await {
            Ok(watch) => Some(watch),
            Err(refusal) => {
                let mut socket = socket;
                let _ = socket.close(Some(refusal)).await;
                return;
            }
        },
        None => None,
    };
    tracing::debug!(%peer, user = ?identity.user.as_ref().map(|u| &u.username), "connected");
    let (sink, stream) = socket.split();
    let (out, out_rx) = mpsc::channel(REPLY_QUEUE);
    let ping_interval = state.config.ping_interval;
    let writer = tokio::spawn(write_loop(sink, out_rx, ping_interval));
    let quota =
        Quota::per_second(state.config.rate_per_second).allow_burst(state.config.rate_burst);
    let reader = Reader {
        state,
        identity,
        address: peer.ip(),
        revocation,
        out,
        hello_done: false,
        limiter: RateLimiter::direct(quota),
    };
    reader.run(stream, shutdown, writer).await;
    tracing::debug!(%peer, "disconnected");
}

fn revoked_close_frame() -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(CLOSE_REVOKED),
        reason: REVOKED_REASON.into(),
    }
}

/// What a revoked connection's close frame says.
const REVOKED_REASON: &str = "session revoked; log in again";

/// Watches the connection's token for revocation, then records its use. Watching first closes
/// the race with a revocation that lands meanwhile: if the token is gone by the time its use is
/// recorded, there is no session to serve. Refused, the answer is the close frame to send:
/// revoked, or "try again later" when the use could not be recorded (the database is away).
async fn watch_token(
    state: &Arc<ServerState>,
    token_hash: &str,
    address: IpAddr,
) -> Result<Watch, CloseFrame> {
    let watch = state.live_tokens.watch(token_hash);
    let hash = token_hash.to_owned();
    let address = address.to_string();
    let still_valid = state
        .writer
        .write(move |ctx| crate::store::sessions::touch_token(ctx, &hash, &address))
        .await;
    match still_valid {
        Ok(true) => Ok(watch),
        Ok(false) => Err(revoked_close_frame()),
        Err(error) => Err(CloseFrame {
            code: CloseCode::Again,
            reason: error.message.into(),
        }),
    }
}

struct Reader {
    state: Arc<ServerState>,
    identity: Identity,
    address: IpAddr,
    revocation: Option<Watch>,
    out: mpsc::Sender<Outgoing>,
    hello_done: bool,
    limiter: DefaultDirectRateLimiter,
}

/// Why the reader stops.
enum Stop {
    /// The peer closed, vanished, or broke the protocol at the websocket level.
    Peer,
    /// We close: logout, shutdown, an oversized frame, a bad hello.
    Close(CloseCode, String),
}

impl Reader {
    async fn run(
        mut self,
        mut stream: SplitStream<Socket>,
        mut shutdown: Shutdown,
        mut writer: tokio::task::JoinHandle<()>,
    ) {
        let idle_timeout = self.state.config.idle_timeout;
        let stop = loop {
            let next = tokio::select! {
                next = tokio::time::timeout(idle_timeout, stream.next()) => next,
                _ = shutdown.wait() => break Stop::Close(CloseCode::Away, "server shutting down".into()),
                _ = revoked(&mut self.revocation) => break Stop::Close(CloseCode::from(CLOSE_REVOKED), REVOKED_REASON.into()),
                _ = &mut writer => return,
            };
            let message = match next {
                Err(_) => {
                    tracing::debug!("peer silent past the idle timeout");
                    break Stop::Peer;
                }
                Ok(None) => break Stop::Peer,
                Ok(Some(Err(WsError::Capacity(CapacityError::MessageTooLong {
                    size,
                    max_size,
                })))) => {
                    let error = ApiError::new(
                        ErrorCode::FrameTooLarge,
                        format!("frame of {size} bytes is over the limit of {max_size} bytes"),
                    );
                    self.send(ServerFrame::error(None, error.clone())).await;
                    break Stop::Close(CloseCode::Size, error.message);
                }
                Ok(Some(Err(WsError::Utf8(detail)))) => {
                    tracing::debug!(%detail, "text frame is not UTF-8");
                    break Stop::Close(
                        CloseCode::Invalid,
                        "a text frame is not valid UTF-8".into(),
                    );
                }
                Ok(Some(Err(error))) => {
                    tracing::debug!(%error, "websocket error");
                    break Stop::Peer;
                }
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => {
                    if let Some(stop) = self.handle_text(&text).await {
                        break stop;
                    }
                }
                Message::Binary(_) => {
                    let error = ApiError::new(
                        ErrorCode::BadFrame,
                        "binary frames are not part of the protocol; send JSON text",
                    );
                    self.send(ServerFrame::error(None, error)).await;
                }
                Message::Close(_) => break Stop::Peer,
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        };
        if let Stop::Close(code, reason) = stop {
            let _ = self.out.send(Outgoing::Close(code, reason)).await;
        }
        drop(self.out);
        let _ = writer.await;
    }

    async fn handle_text(&mut self, text: &str) -> Option<Stop> {
        if let Err(not_until) = self.limiter.check() {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            let id = Request::parse(text).ok().map(|r| r.id);
            let frame = ServerFrame::Error {
                id,
                code: ErrorCode::RateLimited,
                message: format!("too many requests; retry in {} ms", wait.as_millis()),
                retry_after_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
            };
            self.send(frame).await;
            return None;
        }
        let request = match Request::parse(text) {
            Ok(request) => request,
            Err(bad) => {
                self.send(ServerFrame::error(bad.id, bad.error)).await;
                return None;
            }
        };
        let id = request.id;
        match request.body {
            RequestBody::Hello(hello) if !self.hello_done => self.hello(id, hello).await,
            _ if !self.hello_done => {
                let error =
                    ApiError::new(ErrorCode::HelloRequired, "the first frame must be a hello");
                self.send(ServerFrame::error(Some(id), error)).await;
                None
            }
            body => {
                let logout = matches!(body, RequestBody::Logout);
                let caller = Caller {
                    user: self.identity.user.as_ref(),
                    address: self.address,
                    token_hash: self.identity.token_hash.as_deref(),
                };
                let kind = body.kind();
                let reply = dispatch(&self.state, &caller, body).await;
                let code = reply.as_ref().map_or_else(|e| e.code.as_str(), |_| "ok");
                self.state.metrics.requests.add(vec![kind, code]);
                let succeeded = reply.is_ok();
                self.reply(id, reply).await;
                (logout && succeeded).then(|| Stop::Close(CloseCode::Normal, "logged out".into()))
            }
        }
    }

    async fn hello(&mut self, id: RequestId, hello: requests::Hello) -> Option<Stop> {
        if hello.version != PROTOCOL_VERSION {
            let message = format!(
                "this server speaks protocol version {PROTOCOL_VERSION}, not {}; upgrade quid",
                hello.version
            );
            let error = ApiError::new(ErrorCode::UnsupportedVersion, message.clone());
            self.send(ServerFrame::error(Some(id), error)).await;
            return Some(Stop::Close(CloseCode::Policy, message));
        }
        self.hello_done = true;
        let user = self.identity.user.clone();
        let resume = match (&user, hello.resume_after) {
            (Some(user), Some(after)) => match self.resume(user, after, &hello.positions).await {
                Ok(resume) => Some(resume),
                Err(error) => {
                    self.send(ServerFrame::error(Some(id), error)).await;
                    return Some(Stop::Close(
                        CloseCode::Error,
                        "cannot read event stream".into(),
                    ));
                }
            },
            _ => None,
        };
        let result = results::Hello {
            version: PROTOCOL_VERSION,
            server: format!("quid/{}", env!("CARGO_PKG_VERSION")),
            user,
            max_frame_bytes: self.state.config.max_frame_bytes,
            resume_after: resume.as_ref().map(|(resume, _)| resume.seq),
            restarted: resume
                .as_ref()
                .map(|(_, restarted)| restarted.clone())
                .unwrap_or_default(),
        };
        self.reply(
            id,
            serde_json::to_value(result).map_err(|_| ApiError::internal()),
        )
        .await;
        if let Some((resume, _)) = resume {
            let _ = self.out.send(Outgoing::Resume(Box::new(resume))).await;
        }
        None
    }

    /// Subscribes, follows every conversation the user is a member of, and only then reads
    /// where replay starts: an event committed meanwhile is both replayed and live, and the
    /// writer drops the second copy by its seq or position, so nothing is missed or doubled.
    /// A seq or position beyond anything this server issued (its store was replaced) starts
    /// over, so the client gets everything rather than nothing; such conversations are named.
    async fn resume(
        &self,
        user: &User,
        after: Seq,
        positions: &[(ConversationId, Position)],
    ) -> Result<(outgoing::Resume, Vec<ConversationId>), ApiError> {
        let events = self
            .state
            .hub
            .subscribe(user.id, self.state.config.outbound_queue);
        let user_id = user.id;
        let (latest, windows) = self
            .state
            .store
            .read(move |db| Ok((db.latest_seq(user_id)?, db.windows_of(user_id)?)))
            .await?;
        let held: HashMap<ConversationId, Position> = positions.iter().copied().collect();
        let mut restarted = Vec::new();
        let mut conversations = Vec::with_capacity(windows.len());
        for window in windows {
            if window.is_open() {
                events.follow(window.conversation_id);
            }
            let mut from = held
                .get(&window.conversation_id)
                .copied()
                .unwrap_or(Position::ZERO);
            if from > window.last {
                restarted.push(window.conversation_id);
                from = Position::ZERO;
            }
            conversations.push((window, from));
        }
        let resume = outgoing::Resume {
            events,
            store: Arc::clone(&self.state.store),
            user_id,
            seq: if after > latest { Seq::ZERO } else { after },
            conversations,
        };
        Ok((resume, restarted))
    }

    async fn reply(&self, id: RequestId, result: Result<serde_json::Value, ApiError>) {
        let frame = match result {
            Ok(result) => ServerFrame::Ok { id, result },
            Err(error) => ServerFrame::error(Some(id), error),
        };
        self.send(frame).await;
    }

    async fn send(&self, frame: ServerFrame) {
        match serde_json::to_string(&frame) {
            // If the writer is gone the connection is closing; the frame has nowhere to go.
            Ok(text) => {
                let _ = self.out.send(Outgoing::Frame(text.into())).await;
            }
            Err(error) => tracing::error!(%error, "cannot serialize frame"),
        }
    }
}

/// Completes when the connection's token is revoked; never for an anonymous connection.
async fn revoked(revocation: &mut Option<Watch>) {
    match revocation {
        Some(watch) => watch.revoked().await,
        None => std::future::pending().await,
    }
}
