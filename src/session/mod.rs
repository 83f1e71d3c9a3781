//! The client session: keeps one connection to the server alive for its user (the CLI now, the
//! TUI next). It connects with the saved token, resumes the event stream after the last seq
//! it stored, reconnects with backoff when the link drops, and sends queued messages from the
//! outbox on disk exactly once. It hands typed [`SessionEvent`]s to its user over a channel
//! and never touches the terminal.

pub mod backoff;
pub mod connection;
pub mod login;
mod outbox;
mod sealed;
pub mod secret;
pub mod state;
pub mod target;

use crate::protocol::{
    ApiError, ClientMsgId, ConversationId, Event, Message, MessageId, Position, RequestBody, Seq,
    User,
};
use crate::secret::endpoint::Endpoint;
use crate::secret::vault::Unlock;
use backoff::Backoff;
use connection::{ConnectError, Connection, Pushed, RequestError, Resume};
pub use sealed::VerifyEvent;
use sealed::{SecretJob, Secrets};
use serde::de::DeserializeOwned;
use state::{ClientState, OutboxItem, StateError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use target::Target;
use tokio::sync::{Notify, mpsc, oneshot};
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
        let runner = Runner {
            config,
            state: Arc::new(Mutex::new(state)),
            commands: commands_rx,
            events: events_tx,
            outbox_ready: Arc::new(Notify::new()),
            secrets: None,
        };
        tokio::spawn(runner.run());
        Ok((Session { commands }, events))
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

struct Runner {
    config: SessionConfig,
    state: Arc<Mutex<ClientState>>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<SessionEvent>,
    outbox_ready: Arc<Notify>,
    /// The secret store, once opened for the user the server says this is. The mutex is
    /// never locked (`get_mut`): it only lets futures that hold `&Runner` across an await be
    /// sent between threads, which a SQLite connection alone would not.
    secrets: Option<Mutex<Secrets>>,
}

/// Why a connected spell ended.
enum Ended {
    /// Every handle is gone.
    Stopped,
    Lost(String),
    Failed(String),
}

impl Runner {
    async fn run(mut self) {
        let mut attempt = 0;
        loop {
            self.emit(SessionEvent::Connecting { attempt }).await;
            let (reason, retry_in) = match Connection::open_trusting(
                &self.config.server,
                self.config.ca_file.as_deref(),
                Some(&self.config.token),
            )
            .await
            {
                Ok((connection, pushed)) => {
                    match self.connected(connection, pushed, &mut attempt).await {
                        Ended::Stopped => return,
                        Ended::Failed(reason) => {
                            self.emit(SessionEvent::Failed { reason }).await;
                            return;
                        }
                        Ended::Lost(reason) => self.later(&mut attempt, reason),
                    }
                }
                Err(ConnectError::Unauthorized(reason)) => {
                    self.emit(SessionEvent::AuthRejected { reason }).await;
                    match self.wait_for_login().await {
                        Some(token) => {
                            self.config.token = token;
                            attempt = 0;
                            continue;
                        }
                        None => return,
                    }
                }
                // Up, and said when to come back: then, not a longer wait each time, so that
                // the session is back as soon as the server's database is.
                Err(ConnectError::Unavailable { retry_after, .. }) => (
                    "the server cannot serve for now (HTTP 503: its database is away)".to_owned(),
                    Backoff::soon(retry_after),
                ),
                // Without the URL: whoever shows it (the status bar, `quid send`) says where.
                Err(ConnectError::Unreachable { reason, .. }) => self.later(&mut attempt, reason),
            };
            self.emit(SessionEvent::Disconnected { reason, retry_in })
                .await;
            if !self.wait_offline(retry_in).await {
                return;
            }
        }
    }

    /// The next backoff delay, counting one more failed attempt.
    fn later(&self, attempt: &mut u32, reason: String) -> (String, Duration) {
        *attempt += 1;
        (reason, self.config.backoff.delay(*attempt))
    }

    async fn emit(&self, event: SessionEvent) {
        // A user that stopped listening still holds a handle or will drop it soon; nothing to do.
        let _ = self.events.send(event).await;
    }

    fn with_state<T>(
        &self,
        f: impl FnOnce(&ClientState) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        // Held only for one local SQLite statement; a poisoned lock still guards a valid handle.
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&state)
    }

    /// Serves commands while offline for `delay`. False when every handle is gone.
    async fn wait_offline(&mut self, delay: Duration) -> bool {
        let deadline = tokio::time::sleep(delay);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return true,
                command = self.commands.recv() => match command {
                    None => return false,
                    Some(Command::Request { reply, .. }) => { let _ = reply.send(Err(SessionError::Offline)); }
                    Some(Command::Enqueue { item, reply }) => { let _ = reply.send(self.enqueue(&item)); }
                    Some(Command::Secret(job)) => self.secret_offline(job, SessionError::Offline).await,
                    Some(Command::LogIn { reply, .. }) => { let _ = reply.send(Err(SessionError::LoggedIn)); }
                },
            }
        }
    }

    /// Serves commands while the server refuses the token: messages still go to the outbox
    /// on disk, requests are refused, until a log-in gives a new token. `None` when every
    /// handle is gone.
    async fn wait_for_login(&mut self) -> Option<String> {
        while let Some(command) = self.commands.recv().await {
            match command {
                Command::Request { reply, .. } => {
                    let _ = reply.send(Err(SessionError::LoggedOut));
                }
                Command::Enqueue { item, reply } => {
                    let _ = reply.send(self.enqueue(&item));
                }
                Command::Secret(job) => self.secret_offline(job, SessionError::LoggedOut).await,
                Command::LogIn {
                    username,
                    password,
                    reply,
                } => {
                    let account = login::Account {
                        server: &self.config.server,
                        ca_file: self.config.ca_file.as_deref(),
                        data_dir: &self.config.state_dir,
                    };
                    match account.log_in(username, password).await {
                        Ok(auth) => {
                            let _ = reply.send(Ok(()));
                            return Some(auth.token);
                        }
                        Err(error) => {
                            let _ = reply.send(Err(error.into()));
                        }
                    }
                }
            }
        }
        None
    }

    fn enqueue(&self, item: &OutboxItem) -> Result<(), SessionError> {
        self.with_state(|state| state.enqueue(item))?;
        self.outbox_ready.notify_one();
        Ok(())
    }

    async fn connected(
        &mut self,
        connection: Connection,
        mut pushed: mpsc::Receiver<Pushed>,
        attempt: &mut u32,
    ) -> Ended {
        let (user, mut held) = match self.greet(&connection).await {
            Ok(greeted) => greeted,
            Err(ended) => return ended,
        };
        *attempt = 0;
        self.open_secrets(&connection, &user).await;
        self.emit(SessionEvent::Connected { user }).await;
        let mut pump = None;
        if !self.config.subscribe {
            pump = Some(self.start_sending(&connection).await);
        }
        let ended = loop {
            tokio::select! {
                item = pushed.recv() => match item {
                    Some(Pushed::Event(seq, event)) => {
                        if let Err(error) = self.take_event(&connection, &mut held, Place::User(seq), event).await {
                            break Ended::Failed(error.to_string());
                        }
                    }
                    Some(Pushed::ConversationEvent(id, pos, event)) => {
                        let place = Place::Conversation(id, pos);
                        if let Err(error) = self.take_event(&connection, &mut held, place, event).await {
                            break Ended::Failed(error.to_string());
                        }
                    }
                    Some(Pushed::CaughtUp(_)) => {
                        self.emit(SessionEvent::CaughtUp).await;
                        if pump.is_none() {
                            pump = Some(self.start_sending(&connection).await);
                        }
                    }
                    Some(Pushed::Typing(conversation_id, user)) => {
                        self.emit(SessionEvent::Typing { conversation_id, user }).await;
                    }
                    None => break Ended::Lost("connection closed".into()),
                },
                command = self.commands.recv() => match command {
                    None => break Ended::Stopped,
                    Some(Command::Request { body, reply }) => {
                        let connection = connection.clone();
                        tokio::spawn(async move {
                            let result = connection.request_value(body).await.map_err(SessionError::from);
                            let _ = reply.send(result);
                        });
                    }
                    Some(Command::Enqueue { item, reply }) => { let _ = reply.send(self.enqueue(&item)); }
                    Some(Command::Secret(job)) => self.secret_job(&connection, job).await,
                    Some(Command::LogIn { reply, .. }) => { let _ = reply.send(Err(SessionError::LoggedIn)); }
                },
            }
        };
        if let Some(pump) = pump {
            pump.abort();
        }
        ended
    }

    /// Says hello with where this device's streams stand, learns who it is, and works out
    /// where they stand now; how it ended, if it could not.
    async fn greet(&mut self, connection: &Connection) -> Result<(User, Held), Ended> {
        let resume = match self.with_state(|state| {
            Ok(Resume {
                seq: state.last_seq()?,
                positions: state.positions()?,
            })
        }) {
            Ok(resume) => resume,
            Err(error) => return Err(Ended::Failed(error.to_string())),
        };
        let hello = match connection
            .hello(self.config.subscribe.then(|| resume.clone()))
            .await
        {
            Ok(hello) => hello,
            Err(error) => return Err(Ended::Lost(error.to_string())),
        };
        let Some(user) = hello.user else {
            return Err(Ended::Failed(
                "the server treated the session as anonymous".into(),
            ));
        };
        if let Err(error) = self.with_state(|state| state.set_username(&user.username)) {
            return Err(Ended::Failed(error.to_string()));
        }
        let held = match self.held_after(&hello.restarted, resume, hello.resume_after) {
            Ok(held) => held,
            Err(error) => return Err(Ended::Failed(error.to_string())),
        };
        Ok((user, held))
    }

    /// Where the streams stand once the hello is answered: the server's replay start where
    /// its store was replaced (the positions it restarted are forgotten), what was held
    /// otherwise.
    fn held_after(
        &self,
        restarted: &[ConversationId],
        resume: Resume,
        resume_after: Option<Seq>,
    ) -> Result<Held, StateError> {
        self.with_state(|state| state.forget_positions(restarted))?;
        let seq = match resume_after {
            Some(from) if from < resume.seq => from, // The server's store was replaced.
            _ => resume.seq,
        };
        let positions = resume
            .positions
            .into_iter()
            .filter(|(id, _)| !restarted.contains(id))
            .collect();
        Ok(Held { seq, positions })
    }

    /// Hands on an event the session does not hold yet, and records that it holds it. The
    /// server never repeats a seq or position; the check guards the promise "nothing doubled".
    /// A sealed message is read and kept before its place is: a crash between the two replays
    /// the event, which the secret store then answers.
    async fn take_event(
        &mut self,
        connection: &Connection,
        held: &mut Held,
        place: Place,
        event: Event,
    ) -> Result<(), StateError> {
        if held.holds(place) {
            return Ok(());
        }
        if let Some(event) = self.secret_event(connection, event).await {
            self.emit(SessionEvent::Event { event }).await;
        }
        match place {
            Place::User(seq) => {
                held.seq = seq;
                self.with_state(|state| state.set_last_seq(seq))
            }
            Place::Conversation(id, pos) => {
                held.positions.insert(id, pos);
                self.with_state(|state| state.set_position(id, pos))
            }
        }
    }

    /// Sends what was written offline: the secret messages held, then the outbox's pump.
    async fn start_sending(&mut self, connection: &Connection) -> tokio::task::JoinHandle<()> {
        self.send_waiting_secrets(connection).await;
        self.start_outbox_pump(connection)
    }

    fn start_outbox_pump(&self, connection: &Connection) -> tokio::task::JoinHandle<()> {
        // A permit makes the pump look at the outbox once now, for messages queued earlier.
        self.outbox_ready.notify_one();
        tokio::spawn(outbox::pump(
            connection.clone(),
            Arc::clone(&self.state),
            Arc::clone(&self.outbox_ready),
            self.events.clone(),
        ))
    }

    /// Opens the secret store for `user` (once), publishes this device's keys, and says who
    /// is verified here.
    async fn open_secrets(&mut self, connection: &Connection, user: &User) {
        if !self.open_store(&user.username).await {
            return;
        }
        self.publish_keys(connection).await;
        if let Some(trusted) = self.secrets().and_then(|secrets| secrets.trusted()) {
            self.emit(SessionEvent::Verify(trusted)).await;
        }
    }

    /// Opens the secret store for `username` once; false when there is none to open (said
    /// once, when it would not open).
    async fn open_store(&mut self, username: &str) -> bool {
        let Some(unlock) = &self.config.secret else {
            return false;
        };
        if self.secrets.is_some() {
            return true;
        }
        match Endpoint::open(&self.config.state_dir, username, unlock) {
            Ok(endpoint) => {
                let secrets = Secrets::new(endpoint, username.to_owned());
                self.secrets = Some(Mutex::new(secrets));
                true
            }
            Err(error) => {
                self.config.secret = None;
                let reason = error.to_string();
                self.emit(SessionEvent::SecretUnavailable { reason }).await;
                false
            }
        }
    }

    /// A secret job while there is no connection: a message is held (the store opened for
    /// the user this profile last was, if this run has not connected yet); the rest refused.
    async fn secret_offline(&mut self, job: SecretJob, error: SessionError) {
        if self.secrets.is_none() {
            let username = self.with_state(|state| state.username()).ok().flatten();
            if let Some(username) = username {
                self.open_store(&username).await;
            }
        }
        match self.secrets() {
            Some(secrets) => secrets.hold_or_refuse(job, error),
            None => job.refuse(error),
        }
    }

    /// Sends the secret messages written offline, before anything newer goes out.
    async fn send_waiting_secrets(&mut self, connection: &Connection) {
        let Some(secrets) = self.secrets() else {
            return;
        };
        for event in secrets.send_waiting(connection).await {
            self.emit(event).await;
        }
    }

    fn secrets(&mut self) -> Option<&mut Secrets> {
        let secrets = self.secrets.as_mut()?;
        Some(
            secrets
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    async fn publish_keys(&mut self, connection: &Connection) {
        let Some(secrets) = self.secrets() else {
            return;
        };
        if let Err(error) = secret::publish(connection, &mut secrets.endpoint).await {
            let reason = format!("cannot publish this device's keys: {error}");
            self.emit(SessionEvent::SecretUnavailable { reason }).await;
        }
    }

    /// The event as the user should see it: a sealed message read (`None`: a replay, dropped),
    /// a verification step acted on; this device's keys topped up when they run low.
    async fn secret_event(&mut self, connection: &Connection, mut event: Event) -> Option<Event> {
        let Some(secrets) = self.secrets() else {
            return Some(event);
        };
        if let Event::KeysLow { device, .. } = &event
            && *device == secrets.endpoint.device_id()
        {
            self.publish_keys(connection).await;
            return Some(event);
        }
        let (keep, told) = secrets.on_event(connection, &mut event).await;
        for verify in told {
            self.emit(SessionEvent::Verify(verify)).await;
        }
        keep.then_some(event)
    }

    async fn secret_job(&mut self, connection: &Connection, job: SecretJob) {
        let Some(secrets) = self.secrets() else {
            return job.refuse(SessionError::NoSecrets);
        };
        let told = secrets.run(connection, job).await;
        for verify in told {
            self.emit(SessionEvent::Verify(verify)).await;
        }
    }
}

/// Where a pushed event sits: the user's own stream, or a conversation's log.
#[derive(Debug, Clone, Copy)]
enum Place {
    User(Seq),
    Conversation(ConversationId, Position),
}

/// How far the session holds each stream.
struct Held {
    seq: Seq,
    positions: HashMap<ConversationId, Position>,
}

impl Held {
    fn holds(&self, place: Place) -> bool {
        match place {
            Place::User(seq) => seq <= self.seq,
            Place::Conversation(id, pos) => {
                self.positions.get(&id).is_some_and(|&held| pos <= held)
            }
        }
    }
}
