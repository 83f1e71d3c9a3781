//! The session's task: it owns the connection while there is one, connects and says hello
//! with where this device's streams stand, takes pushed events into the store in order,
//! sends the outbox once caught up, runs the secret store's jobs, and waits out the backoff
//! (or a new login) while there is none. `Session` is its handle.

use super::backoff::Backoff;
use super::connection::{ConnectError, Connection, Pushed, Resume};
use super::sealed::{SecretJob, Secrets};
use super::state::{ClientState, OutboxItem, StateError};
use super::{Command, SessionConfig, SessionError, SessionEvent, login, outbox, secret};
use crate::protocol::{ConversationId, Event, Position, Seq, User};
use crate::secret::endpoint::Endpoint;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

pub(super) struct Runner {
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
    pub(super) fn new(
        config: SessionConfig,
        state: ClientState,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<SessionEvent>,
    ) -> Runner {
        Runner {
            config,
            state: Arc::new(Mutex::new(state)),
            commands,
            events,
            outbox_ready: Arc::new(Notify::new()),
            secrets: None,
        }
    }

    pub(super) async fn run(mut self) {
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

    /// The server's files as the session's user, with its token now.
    fn files(&self) -> Result<super::files::Files, SessionError> {
        let config = &self.config;
        Ok(super::files::Files::new(
            &config.server,
            &config.token,
            config.ca_file.as_deref(),
        )?)
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
                    Some(Command::Files { reply }) => { let _ = reply.send(self.files()); }
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
                Command::Files { reply } => {
                    let _ = reply.send(Err(SessionError::LoggedOut));
                }
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
                    Some(Command::Files { reply }) => { let _ = reply.send(self.files()); }
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
