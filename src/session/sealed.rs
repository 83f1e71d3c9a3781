//! The session's secret store at work: it reads sealed events before their seq is stored,
//! runs what the session's user asks of it (reveal history, send, accept keys, verify), and
//! carries interactive verifications (`secret::verify`) over the secret conversation: steps in
//! from the other device, steps out to it, and what the user must see.

use super::connection::{Connection, RequestError};
use super::secret::{self, Revealed, To};
use super::{SessionError, SessionEvent};
use crate::protocol::{ClientMsgId, ConversationId, Event, Message, TimestampMs};
use crate::secret::endpoint::Endpoint;
use crate::secret::outbox::Waiting;
use crate::secret::verify::{Outcome, Party, Step, Verification};
use std::collections::HashMap;
use tokio::sync::oneshot;

/// What the session's user asks of its secret store.
pub(super) enum SecretJob {
    Reveal {
        messages: Vec<Message>,
        reply: oneshot::Sender<Result<Vec<Message>, SessionError>>,
    },
    Send {
        conversation_id: ConversationId,
        client_id: ClientMsgId,
        other: String,
        text: String,
        /// `None`: offline, so held to be sealed and sent once back.
        reply: oneshot::Sender<Result<Option<Message>, SessionError>>,
    },
    AcceptKeys {
        username: String,
        reply: oneshot::Sender<Result<usize, SessionError>>,
    },
    /// Checks the devices a message to `other` would be sealed for.
    Ready {
        other: String,
        reply: oneshot::Sender<Result<(), SessionError>>,
    },
    /// Sets a secret conversation's disappearing-message timer (0: off).
    SetTimer {
        conversation_id: ConversationId,
        other: String,
        seconds: u32,
        reply: oneshot::Sender<Result<Message, SessionError>>,
    },
    /// Starts verifying the other person of a secret conversation.
    Verify {
        conversation_id: ConversationId,
        other: String,
        reply: oneshot::Sender<Result<(), SessionError>>,
    },
    /// The user compared the codes of verification `txn`: they match, or not.
    Compared {
        txn: String,
        matches: bool,
        reply: oneshot::Sender<Result<(), SessionError>>,
    },
}

impl SecretJob {
    pub(super) fn refuse(self, error: SessionError) {
        // Whoever asked may have stopped waiting: nothing to tell.
        let _ = match self {
            SecretJob::Reveal { reply, .. } => reply.send(Err(error)).map_err(drop),
            SecretJob::Send { reply, .. } => reply.send(Err(error)).map_err(drop),
            SecretJob::SetTimer { reply, .. } => reply.send(Err(error)).map_err(drop),
            SecretJob::AcceptKeys { reply, .. } => reply.send(Err(error)).map_err(drop),
            SecretJob::Verify { reply, .. }
            | SecretJob::Compared { reply, .. }
            | SecretJob::Ready { reply, .. } => reply.send(Err(error)).map_err(drop),
        };
    }
}

/// What a verification tells the session's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyEvent {
    /// Show the code; the user says whether the other screen shows the same.
    Compare {
        conversation_id: ConversationId,
        txn: String,
        username: String,
        emoji: String,
        decimals: String,
    },
    /// `username`'s device is verified.
    Verified {
        conversation_id: ConversationId,
        username: String,
    },
    Failed {
        conversation_id: ConversationId,
        reason: String,
    },
    /// The people whose every device is verified here, and the conversations known to be
    /// secret (when the store opens).
    Trusted {
        usernames: Vec<String>,
        secret_conversations: Vec<ConversationId>,
    },
}

struct Ongoing {
    verification: Verification,
    conversation_id: ConversationId,
    other: String,
}

pub(super) struct Secrets {
    pub(super) endpoint: Endpoint,
    me: String,
    verifications: HashMap<String, Ongoing>,
}

impl Secrets {
    pub(super) fn new(endpoint: Endpoint, me: String) -> Secrets {
        Secrets {
            endpoint,
            me,
            verifications: HashMap::new(),
        }
    }

    /// Who is verified here, and which conversations are secret, for the session's user.
    pub(super) fn trusted(&self) -> Option<VerifyEvent> {
        Some(VerifyEvent::Trusted {
            usernames: self.endpoint.verified_users().ok()?,
            secret_conversations: self.endpoint.secret_conversations().ok()?,
        })
    }

    /// Reads `event` if it is sealed. False: a replay, to drop. A fresh verification step
    /// is acted on; what the user should see comes back.
    pub(super) async fn on_event(
        &mut self,
        connection: &Connection,
        event: &mut Event,
    ) -> (bool, Vec<VerifyEvent>) {
        if let Event::Joined { conversation } | Event::ConversationUpdated { conversation } = event
            && conversation.secret
            && let Err(error) = self.endpoint.note_secret(conversation.id)
        {
            tracing::warn!(%error, "cannot note a secret conversation");
        }
        let (Event::Message { message } | Event::MessageUpdated { message }) = event else {
            return (true, Vec::new());
        };
        match secret::reveal(connection, &mut self.endpoint, message).await {
            Revealed::Shown => (true, Vec::new()),
            Revealed::Replay | Revealed::Unshown => (false, Vec::new()),
            Revealed::Step(step) => {
                let shown = step.is_worth_a_line();
                let told = self.on_step(connection, message, step).await;
                (shown, told)
            }
        }
    }

    pub(super) async fn run(
        &mut self,
        connection: &Connection,
        job: SecretJob,
    ) -> Vec<VerifyEvent> {
        let mut told = Vec::new();
        // Whoever asked may have stopped waiting: nothing to tell.
        let _ = match job {
            SecretJob::Reveal { messages, reply } => {
                let kept = self.reveal(connection, messages).await;
                reply.send(Ok(kept)).map_err(drop)
            }
            SecretJob::Send {
                conversation_id,
                client_id,
                other,
                text,
                reply,
            } => {
                let waiting = Waiting {
                    client_id,
                    conversation_id,
                    other,
                    text,
                };
                let sent = self.send_text(connection, &waiting).await;
                reply
                    .send(sent.map(Some).map_err(SessionError::from))
                    .map_err(drop)
            }
            SecretJob::SetTimer {
                conversation_id,
                other,
                seconds,
                reply,
            } => {
                let set = self
                    .set_timer(connection, conversation_id, &other, seconds)
                    .await;
                reply.send(set.map_err(SessionError::from)).map_err(drop)
            }
            SecretJob::AcceptKeys { username, reply } => {
                let accepted = self.accept_keys(connection, &username).await;
                reply
                    .send(accepted.map_err(SessionError::from))
                    .map_err(drop)
            }
            SecretJob::Ready { other, reply } => {
                let ready =
                    secret::recipients(connection, &mut self.endpoint, &self.me, &other).await;
                reply
                    .send(ready.map(drop).map_err(SessionError::from))
                    .map_err(drop)
            }
            SecretJob::Verify {
                conversation_id,
                other,
                reply,
            } => {
                let sent = self.verify(connection, conversation_id, other).await;
                reply.send(sent).map_err(drop)
            }
            SecretJob::Compared {
                txn,
                matches,
                reply,
            } => {
                let outcome = self.compared(connection, &txn, matches).await;
                let result = match outcome {
                    Ok(events) => {
                        told = events;
                        Ok(())
                    }
                    Err(error) => Err(error),
                };
                reply.send(result).map_err(drop)
            }
        };
        told
    }

    /// `messages` as this device reads them, leaving out what is not shown (a replay, a
    /// verification step's machinery).
    async fn reveal(&mut self, connection: &Connection, messages: Vec<Message>) -> Vec<Message> {
        let mut kept = Vec::with_capacity(messages.len());
        for mut message in messages {
            // A step in history is shown, not acted on again: only fresh ones are.
            let shown = match secret::reveal(connection, &mut self.endpoint, &mut message).await {
                Revealed::Shown => true,
                Revealed::Step(step) => step.is_worth_a_line(),
                Revealed::Replay | Revealed::Unshown => false,
            };
            if shown {
                kept.push(message);
            }
        }
        kept
    }

    /// Announces `conversation_id`'s new timer to `other`; the message as its writer sees it
    /// (without the copies sealed for others) comes back.
    async fn set_timer(
        &mut self,
        connection: &Connection,
        conversation_id: ConversationId,
        other: &str,
        seconds: u32,
    ) -> Result<Message, secret::SecretLinkError> {
        let to = To {
            me: &self.me,
            other,
            conversation_id,
            client_id: ClientMsgId::random(),
        };
        let mut message = secret::send_timer(connection, &mut self.endpoint, to, seconds).await?;
        if let Some(sealed) = message.sealed.as_deref_mut() {
            sealed.copies.clear();
        }
        Ok(message)
    }

    /// Accepts the devices `username` has now, and this user's own: a new one of theirs
    /// stops sending as well. How many were accepted.
    async fn accept_keys(
        &mut self,
        connection: &Connection,
        username: &str,
    ) -> Result<usize, secret::SecretLinkError> {
        let theirs = secret::accept_devices(connection, &mut self.endpoint, username).await?;
        let mine = secret::accept_devices(connection, &mut self.endpoint, &self.me).await?;
        Ok(theirs.len() + mine.len())
    }

    /// Starts verifying `other` in `conversation_id`: the first step goes out.
    async fn verify(
        &mut self,
        connection: &Connection,
        conversation_id: ConversationId,
        other: String,
    ) -> Result<(), SessionError> {
        let (verification, start) = Verification::start(self.endpoint.me());
        let txn = verification.txn().to_owned();
        let ongoing = Ongoing {
            verification,
            conversation_id,
            other: other.clone(),
        };
        self.verifications.insert(txn, ongoing);
        self.send_step(connection, conversation_id, &other, None, start)
            .await
    }

    /// Seals `waiting` for the devices of the moment and sends it; the message as its
    /// writer should see it comes back.
    async fn send_text(
        &mut self,
        connection: &Connection,
        waiting: &Waiting,
    ) -> Result<Message, secret::SecretLinkError> {
        let to = To {
            me: &self.me,
            other: &waiting.other,
            conversation_id: waiting.conversation_id,
            client_id: waiting.client_id,
        };
        let mut message = secret::send(connection, &mut self.endpoint, to, &waiting.text).await?;
        message.text = waiting.text.clone();
        if let Some(sealed) = message.sealed.as_deref_mut() {
            sealed.copies.clear();
        }
        Ok(message)
    }

    /// Offline: a message is held in the store to be sent once back; anything else is
    /// refused with `error`.
    pub(super) fn hold_or_refuse(&mut self, job: SecretJob, error: SessionError) {
        let SecretJob::Send {
            conversation_id,
            client_id,
            other,
            text,
            reply,
        } = job
        else {
            return job.refuse(error);
        };
        let waiting = Waiting {
            client_id,
            conversation_id,
            other,
            text,
        };
        let held = self.endpoint.hold(&waiting, TimestampMs::now());
        let _ = reply.send(
            held.map(|()| None)
                .map_err(|e| SessionError::Secret(e.into())),
        );
    }

    /// Sends what was held while offline, oldest first, and says what became of each. A
    /// message refused (a changed key, a device gone) is given back to its writer; a lost
    /// connection leaves the rest for the next time.
    pub(super) async fn send_waiting(&mut self, connection: &Connection) -> Vec<SessionEvent> {
        let waiting = match self.endpoint.waiting() {
            Ok(waiting) => waiting,
            Err(error) => {
                let reason = format!("cannot read the messages written offline: {error}");
                return vec![SessionEvent::SecretUnavailable { reason }];
            }
        };
        let mut told = Vec::new();
        for held in waiting {
            let (client_id, conversation_id) = (held.client_id, held.conversation_id);
            let event = match self.send_text(connection, &held).await {
                Ok(message) => SessionEvent::Sent { client_id, message },
                Err(secret::SecretLinkError::Request(RequestError::Disconnected)) => break,
                Err(error) => SessionEvent::SecretNotSent {
                    client_id,
                    conversation_id,
                    text: held.text,
                    reason: error.to_string(),
                },
            };
            if let Err(error) = self.endpoint.forget_waiting(client_id) {
                let reason = format!("cannot clear a message written offline: {error}");
                told.push(SessionEvent::SecretUnavailable { reason });
                break;
            }
            told.push(event);
        }
        told
    }

    /// The user's word on the codes of `txn`.
    async fn compared(
        &mut self,
        connection: &Connection,
        txn: &str,
        matches: bool,
    ) -> Result<Vec<VerifyEvent>, SessionError> {
        let Some(mut ongoing) = self.verifications.remove(txn) else {
            return Err(SessionError::NoVerification);
        };
        if !matches {
            let cancel = ongoing.verification.cancel("the codes did not match");
            self.send_to_them(connection, &ongoing, cancel).await?;
            return Ok(vec![VerifyEvent::Failed {
                conversation_id: ongoing.conversation_id,
                reason: "you said the codes did not match: the devices are not verified".into(),
            }]);
        }
        let outcome = ongoing.verification.confirm();
        self.follow(connection, ongoing, outcome).await
    }

    /// A fresh verification step in `message`, from the other person's device.
    async fn on_step(
        &mut self,
        connection: &Connection,
        message: &Message,
        step: Step,
    ) -> Vec<VerifyEvent> {
        let sender = &message.sender.username;
        let device = message.sealed.as_deref().map(|s| s.sender_device.clone());
        // This user's own steps (from another of their devices) are not for this one.
        let Some(device) = device.filter(|_| *sender != self.me) else {
            return Vec::new();
        };
        let Ok(Some(from)) = self.endpoint.pinned(sender, &device) else {
            return Vec::new();
        };
        if let Step::Start { txn } = &step {
            return self
                .answer_start(connection, message.conversation_id, from, txn)
                .await;
        }
        let Some(mut ongoing) = self.verifications.remove(step.txn()) else {
            return Vec::new();
        };
        let outcome = ongoing.verification.on_step(step, &from);
        self.follow(connection, ongoing, outcome)
            .await
            .unwrap_or_else(|error| {
                vec![VerifyEvent::Failed {
                    conversation_id: message.conversation_id,
                    reason: error.to_string(),
                }]
            })
    }

    async fn answer_start(
        &mut self,
        connection: &Connection,
        conversation_id: ConversationId,
        from: Party,
        txn: &str,
    ) -> Vec<VerifyEvent> {
        let other = from.username.clone();
        let device = from.device.clone();
        let (verification, accept) = Verification::respond(self.endpoint.me(), from, txn);
        self.verifications.insert(
            txn.to_owned(),
            Ongoing {
                verification,
                conversation_id,
                other: other.clone(),
            },
        );
        match self
            .send_step(connection, conversation_id, &other, Some(&device), accept)
            .await
        {
            Ok(()) => Vec::new(),
            Err(error) => vec![VerifyEvent::Failed {
                conversation_id,
                reason: error.to_string(),
            }],
        }
    }

    /// Carries out what a verification asked for, and keeps it while it is not over.
    async fn follow(
        &mut self,
        connection: &Connection,
        ongoing: Ongoing,
        outcome: Result<Outcome, crate::secret::verify::VerifyError>,
    ) -> Result<Vec<VerifyEvent>, SessionError> {
        let conversation_id = ongoing.conversation_id;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                return Ok(vec![VerifyEvent::Failed {
                    conversation_id,
                    reason: error.to_string(),
                }]);
            }
        };
        let mut told = Vec::new();
        let (steps, done) = match outcome {
            Outcome::Send(steps) => (steps, false),
            Outcome::Compare(code, reply) => {
                told.push(VerifyEvent::Compare {
                    conversation_id,
                    txn: ongoing.verification.txn().to_owned(),
                    username: ongoing.other.clone(),
                    emoji: code.emoji_line(),
                    decimals: code.decimals_line(),
                });
                (reply.into_iter().collect(), false)
            }
            Outcome::Verified(steps) => {
                if let Some(them) = ongoing.verification.them() {
                    self.endpoint
                        .mark_verified(&them.username, &them.device)
                        .map_err(secret::SecretLinkError::from)?;
                }
                told.push(VerifyEvent::Verified {
                    conversation_id,
                    username: ongoing.other.clone(),
                });
                (steps, true)
            }
            Outcome::Wait => (Vec::new(), false),
        };
        for step in steps {
            self.send_to_them(connection, &ongoing, step).await?;
        }
        if !done {
            let txn = ongoing.verification.txn().to_owned();
            self.verifications.insert(txn, ongoing);
        }
        Ok(told)
    }

    async fn send_to_them(
        &mut self,
        connection: &Connection,
        ongoing: &Ongoing,
        step: Step,
    ) -> Result<(), SessionError> {
        let device = ongoing.verification.them().map(|them| them.device.clone());
        self.send_step(
            connection,
            ongoing.conversation_id,
            &ongoing.other,
            device.as_deref(),
            step,
        )
        .await
    }

    async fn send_step(
        &mut self,
        connection: &Connection,
        conversation_id: ConversationId,
        other: &str,
        device: Option<&str>,
        step: Step,
    ) -> Result<(), SessionError> {
        let to = To {
            me: &self.me,
            other,
            conversation_id,
            client_id: ClientMsgId::random(),
        };
        secret::send_step(connection, &mut self.endpoint, to, device, step).await?;
        Ok(())
    }
}
