//! The client session: keeps one connection to the server alive for its user (the CLI now, the
//! TUI next). It connects with the saved token, resumes the event stream after the last seq
//! it stored, reconnects with backoff when the link drops, and sends queued messages from the
//! outbox on disk exactly once. It hands typed [`SessionEvent`]s to its user over a channel
//! and never touches the terminal.

pub mod backoff;
pub mod connection;
pub mod files;
pub mod login;
mod outbox;
mod runner;
mod sealed;
pub mod secret;
pub mod state;
pub mod target;

use crate::protocol::{
    ApiError, ClientMsgId, ConversationId, Event, Message, MessageId, RequestBody, User,
};
use crate::secret::vault::Unlock;
use backoff::Backoff;
use connection::RequestError;
use runner::Runner;
use sealed::SecretJob;
pub use sealed::VerifyEvent;
use serde::de::DeserializeOwned;
use state::{ClientState, OutboxItem, StateError};
use std::path::PathBuf;
use std::time::Duration;
use target::Target;
use tokio::sync::{mpsc, oneshot};
use url::Url;

/// Events buffered for the session's user.
const EVENT_QUEUE: usize = 1024;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub server: Url,
    /// CA certificates a wss:// server must chain to; `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    pub token: String,
    /// The profile's data dir: `state.db` (last seq, outbox) lives here.
    pub state_dir: PathBuf,
    /// Receive the durable event stream (the TUI, a bot). A one-shot command leaves it off, so
    /// it does not move the stream position past events it would not show.
    pub subscribe: bool,
    pub backoff: Backoff,
    /// Open secret conversations with the profile's secret store, unlocked so (the TUI):
    /// sealed messages arrive decrypted. `None`: they pass through sealed.
    pub secret: Option<Unlock>,
}

/// What the session tells its user.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    Connecting {
        attempt: u32,
    },
    Connected {
        user: User,
    },
    Disconnected {
        reason: String,
        retry_in: Duration,
    },
    /// A durable event, from the user's own stream or a conversation's log, each once.
    Event {
        event: Event,
    },
    /// Replay is complete; what follows is live.
    CaughtUp,
    /// Someone else is typing (ephemeral; shown for a few seconds).
    Typing {
        conversation_id: ConversationId,
        user: User,
    },
    /// A queued message was acknowledged (possibly as a duplicate of an earlier send).
    Sent {
        client_id: ClientMsgId,
        message: Message,
    },
    /// The server refused a queued message; it is removed from the outbox.
    SendRefused {
        client_id: ClientMsgId,
        target: Target,
        error: ApiError,
    },
    /// The token was refused: the session stops; log in again.
    AuthRejected {
        reason: String,
    },
    /// Local state could not be read or written; the session stops.
    Failed {
        reason: String,
    },
    /// A secret message written offline was refused once back (a changed key, a device
    /// gone): it is no longer held, and its text goes back to its writer.
    SecretNotSent {
        client_id: ClientMsgId,
        conversation_id: ConversationId,
        text: String,
        reason: String,
    },
    /// Secret conversations cannot be used (the store would not open, or this device could
    /// not be published); the rest of the session goes on.
    SecretUnavailable {
        reason: String,
    },
    /// A verification of another device wants the user, or is over.
    Verify(VerifyEvent),
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("not connected to the server")]
    Offline,
    #[error("the session has stopped")]
    Stopped,
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Secret(#[from] secret::SecretLinkError),
    #[error("secret conversations are not available in this session")]
    NoSecrets,
    #[error("that verification is over (or was never started here)")]
    NoVerification,
    #[error("the server refused the session's token; log in again")]
    LoggedOut,
    #[error("the session is logged in already")]
    LoggedIn,
    #[error(transparent)]
    LogIn(#[from] login::LogInError),
    #[error(transparent)]
    File(#[from] files::FileError),
}

enum Command {
    Request {
        body: RequestBody,
        reply: oneshot::Sender<Result<serde_json::Value, SessionError>>,
    },
    Enqueue {
        item: OutboxItem,
        reply: oneshot::Sender<Result<(), SessionError>>,
    },
    Secret(SecretJob),
    LogIn {
        username: String,
        password: String,
        reply: oneshot::Sender<Result<(), SessionError>>,
    },
    /// The server's files, as the session's user now.
    Files {
        reply: oneshot::Sender<Result<files::Files, SessionError>>,
    },
}

/// Handle to a running session. Dropping every handle stops it.
#[derive(Clone)]
pub struct Session {
    commands: mpsc::Sender<Command>,
}

impl Session {
    pub fn start(
        config: SessionConfig,
    ) -> Result<(Session, mpsc::Receiver<SessionEvent>), SessionError> {
        let state = ClientState::open(&config.state_dir)?;
        let (commands, commands_rx) = mpsc::channel(64);
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(Runner::new(config, state, commands_rx, events_tx).run());
        Ok((Session { commands }, events))
    }

    /// The server's files (uploads, downloads), as the session's user now: its token may
    /// change at a log-in. `LoggedOut` while the server refuses the token.
    pub async fn files(&self) -> Result<files::Files, SessionError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Files { reply })
            .await
            .map_err(|_| SessionError::Stopped)?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    /// Sends a request on the live connection; `Offline` while there is none.
    pub async fn request<T: DeserializeOwned>(&self, body: RequestBody) -> Result<T, SessionError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request { body, reply })
            .await
            .map_err(|_| SessionError::Stopped)?;
        let value = answer.await.map_err(|_| SessionError::Stopped)??;
        serde_json::from_value(value)
            .map_err(|e| SessionError::Request(RequestError::BadReply(e.to_string())))
    }

    /// Queues a message in the outbox on disk and returns its client id at once; it is sent when
    /// connected, exactly once, and reported as [`SessionEvent::Sent`].
    pub async fn send_message(
        &self,
        target: Target,
        text: String,
    ) -> Result<ClientMsgId, SessionError> {
        self.send_message_as(ClientMsgId::random(), target, text, None)
            .await
    }

    /// [`Session::send_message`] with the client id chosen by the caller, who can then show
    /// the message as queued before the session has even seen it.
    pub async fn send_message_as(
        &self,
        client_id: ClientMsgId,
        target: Target,
        text: String,
        reply_to: Option<MessageId>,
    ) -> Result<ClientMsgId, SessionError> {
        let item = OutboxItem {
            client_id,
            target,
            text,
            reply_to,
        };
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Enqueue { item, reply })
            .await
            .map_err(|_| SessionError::Stopped)?;
        answer.await.map_err(|_| SessionError::Stopped)??;
        Ok(client_id)
    }

    /// `messages` with each sealed one's text as this device reads it (or why not), and any
    /// replay left out: for history pages.
    pub async fn reveal(&self, messages: Vec<Message>) -> Result<Vec<Message>, SessionError> {
        let (reply, answer) = oneshot::channel();
        self.secret_job(SecretJob::Reveal { messages, reply })
            .await?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    /// Seals `text` for `other`'s devices and this user's others, and sends it to the secret
    /// conversation. Offline it is held in the secret store (`None`) and sealed and sent once
    /// back: [`SessionEvent::Sent`] or, refused then, [`SessionEvent::SecretNotSent`].
    pub async fn send_secret(
        &self,
        conversation_id: ConversationId,
        client_id: ClientMsgId,
        other: String,
        text: String,
    ) -> Result<Option<Message>, SessionError> {
        let (reply, answer) = oneshot::channel();
        let job = SecretJob::Send {
            conversation_id,
            client_id,
            other,
            text,
            reply,
        };
        self.secret_job(job).await?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    /// Sets the disappearing-message timer of secret `conversation_id` (0: off) and tells
    /// `other`'s devices; the announcement comes back as a message.
    pub async fn set_timer(
        &self,
        conversation_id: ConversationId,
        other: String,
        seconds: u32,
    ) -> Result<Message, SessionError> {
        let (reply, answer) = oneshot::channel();
        let job = SecretJob::SetTimer {
            conversation_id,
            other,
            seconds,
            reply,
        };
        self.secret_job(job).await?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    /// Trusts the devices `username` has now; how many.
    /// Checks `other`'s devices and this user's against the pins, and starts sessions with
    /// them, as sealing for them needs: before money moves whose memo goes sealed.
    pub async fn secret_ready(&self, other: String) -> Result<(), SessionError> {
        let (reply, answer) = oneshot::channel();
        self.secret_job(SecretJob::Ready { other, reply }).await?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    pub async fn accept_keys(&self, username: String) -> Result<usize, SessionError> {
        let (reply, answer) = oneshot::channel();
        self.secret_job(SecretJob::AcceptKeys { username, reply })
            .await?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    /// Starts verifying `other`, the other person of secret `conversation_id`: the steps go
    /// through the conversation, and [`SessionEvent::Verify`] says when to compare the codes.
    pub async fn verify(
        &self,
        conversation_id: ConversationId,
        other: String,
    ) -> Result<(), SessionError> {
        let (reply, answer) = oneshot::channel();
        let job = SecretJob::Verify {
            conversation_id,
            other,
            reply,
        };
        self.secret_job(job).await?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    /// The user compared verification `txn`'s codes: they match, or not.
    pub async fn compared(&self, txn: String, matches: bool) -> Result<(), SessionError> {
        let (reply, answer) = oneshot::channel();
        let job = SecretJob::Compared {
            txn,
            matches,
            reply,
        };
        self.secret_job(job).await?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    /// After [`SessionEvent::AuthRejected`]: logs `username` in again with `password`, keeps
    /// the new token for the profile, and the session goes on with it (the outbox, kept
    /// meanwhile, is sent).
    pub async fn log_in(&self, username: String, password: String) -> Result<(), SessionError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::LogIn {
                username,
                password,
                reply,
            })
            .await
            .map_err(|_| SessionError::Stopped)?;
        answer.await.map_err(|_| SessionError::Stopped)?
    }

    async fn secret_job(&self, job: SecretJob) -> Result<(), SessionError> {
        self.commands
            .send(Command::Secret(job))
            .await
            .map_err(|_| SessionError::Stopped)
    }
}
