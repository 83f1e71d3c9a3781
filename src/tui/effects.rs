//! Carries out the state's effects against the session, each in its own task, and reports
//! the outcome back to the loop as a [`Done`] message. Notifications go to the terminal.

use super::state::{Done, Effect, HISTORY_PAGE};
use crate::config::TuiSettings;
use crate::protocol::requests;
use crate::protocol::{ClientMsgId, ConversationId, ErrorCode, MessageId, RequestBody, results};
use crate::session::connection::RequestError;
use crate::session::target::Target;
use crate::session::{Session, SessionError};
use crate::untrusted::inert_line;
use serde::de::DeserializeOwned;
use std::io::Write;
use tokio::sync::mpsc;

/// Hits one search asks for: a screenful, and more than anyone reads through.
const SEARCH_RESULTS: u32 = 50;

pub struct Executor {
    session: Session,
    /// Where exported statements are written: the directory quid was started in.
    export_dir: std::path::PathBuf,
    done: mpsc::Sender<Done>,
    notify_bell: bool,
    notify_osc: bool,
}

impl Executor {
    pub fn new(
        session: Session,
        done: mpsc::Sender<Done>,
        settings: &TuiSettings,
        export_dir: std::path::PathBuf,
    ) -> Executor {
        Executor {
            session,
            export_dir,
            done,
            notify_bell: settings.notify_bell,
            notify_osc: settings.notify_osc,
        }
    }

    pub fn run(&self, effect: Effect) {
        match effect {
            Effect::LogIn { username, password } => {
                let (session, done) = (self.session.clone(), self.done.clone());
                tokio::spawn(async move {
                    let outcome = match session.log_in(username, password.0).await {
                        Ok(()) => Done::LoggedIn,
                        Err(error) => Done::LogInFailed(error.to_string()),
                    };
                    let _ = done.send(outcome).await;
                });
            }
            Effect::LoadConversations => self
                .request(RequestBody::Conversations, |r: results::Conversations| {
                    Some(Done::Conversations(r.conversations))
                }),
            Effect::Search { query } => {
                let body = RequestBody::Search(requests::Search {
                    query: query.clone(),
                    conversation_id: None,
                    from: None,
                    limit: SEARCH_RESULTS,
                });
                self.request(body, move |found: results::Search| {
                    Some(Done::Searched { query, found })
                });
            }
            Effect::LoadHistory {
                conversation_id,
                before,
            } => {
                let body = RequestBody::History(requests::History {
                    conversation_id,
                    before,
                    limit: HISTORY_PAGE,
                });
                self.history(body, conversation_id, before);
            }
            Effect::OpenSecret(username) => self.request(
                RequestBody::OpenSecret(requests::OpenSecret { username }),
                |r: results::OneConversation| Some(Done::Opened(r.conversation)),
            ),
            Effect::SendSecret {
                conversation_id,
                client_id,
                other,
                text,
            } => self.send_secret(conversation_id, client_id, other, text),
            Effect::Verify {
                conversation_id,
                other,
            } => {
                let session = self.session.clone();
                self.report(
                    async move { session.verify(conversation_id, other).await },
                    "/verify",
                );
            }
            Effect::Compared { txn, matches } => {
                let session = self.session.clone();
                self.report(
                    async move { session.compared(txn, matches).await },
                    "/verify",
                );
            }
            Effect::SetTimer {
                conversation_id,
                other,
                seconds,
            } => {
                let session = self.session.clone();
                let done = self.done.clone();
                tokio::spawn(async move {
                    let outcome = match session.set_timer(conversation_id, other, seconds).await {
                        Ok(message) => Done::SecretSent {
                            client_id: message.client_id,
                            message,
                        },
                        Err(error) => Done::Failed(format!("/timer: {error}")),
                    };
                    let _ = done.send(outcome).await;
                });
            }
            Effect::AcceptKeys(username) => {
                let session = self.session.clone();
                let done = self.done.clone();
                tokio::spawn(async move {
                    let outcome = match session.accept_keys(username.clone()).await {
                        Ok(devices) => Done::KeysAccepted { username, devices },
                        Err(error) => Done::Failed(format!("/accept-keys: {error}")),
                    };
                    let _ = done.send(outcome).await;
                });
            }
            Effect::Mute {
                conversation_id,
                muted,
            } => {
                let body = RequestBody::Mute(requests::Mute {
                    conversation_id,
                    muted,
                });
                self.request(body, |_: results::OneConversation| None);
            }
            Effect::EditMessage { message_id, text } => {
                let body = RequestBody::EditMessage(requests::EditMessage { message_id, text });
                self.request(body, |_: results::OneMessage| None);
            }
            Effect::DeleteMessage(message_id) => {
                let body = RequestBody::DeleteMessage(requests::DeleteMessage { message_id });
                self.request(body, |_: results::OneMessage| None);
            }
            Effect::React {
                message_id,
                emoji,
                remove,
            } => {
                let body = RequestBody::React(requests::React {
                    message_id,
                    emoji,
                    remove,
                });
                self.request(body, |_: results::OneMessage| None);
            }
            Effect::Copy(text) => copy_to_clipboard(&text),
            Effect::Send {
                conversation_id,
                client_id,
                text,
                reply_to,
            } => {
                let session = self.session.clone();
                let done = self.done.clone();
                tokio::spawn(async move {
                    let target = Target::Conversation(conversation_id);
                    if let Err(error) = session
                        .send_message_as(client_id, target, text, reply_to)
                        .await
                    {
                        let _ = done
                            .send(Done::Failed(format!("cannot queue the message: {error}")))
                            .await;
                    }
                });
            }
            Effect::MarkRead {
                conversation_id,
                up_to,
            } => {
                self.request(
                    RequestBody::MarkRead(requests::MarkRead {
                        conversation_id,
                        up_to,
                    }),
                    |_: results::Empty| None,
                );
            }
            Effect::Typing(conversation_id) => {
                self.best_effort(RequestBody::Typing(requests::Typing { conversation_id }));
            }
            Effect::OpenDirect(username) => self.request(
                RequestBody::OpenDirect(requests::OpenDirect { username }),
                |r: results::OneConversation| Some(Done::Opened(r.conversation)),
            ),
            Effect::CreateGroup { name, members } => {
                self.request(
                    RequestBody::CreateGroup(requests::CreateGroup { name, members }),
                    |r: results::OneConversation| Some(Done::Opened(r.conversation)),
                );
            }
            Effect::Leave(conversation_id) => {
                self.request(
                    RequestBody::Leave(requests::Leave { conversation_id }),
                    move |_: results::Empty| Some(Done::Left(conversation_id)),
                );
            }
            Effect::LoadBalance => self.request(RequestBody::Balance, |r: results::Balance| {
                Some(Done::Balance(r.balances))
            }),
            Effect::Topup { amount, key } => {
                let body = RequestBody::Topup(requests::Topup {
                    amount,
                    idempotency_key: key,
                    provider: None,
                });
                self.money(body, Done::TopupStarted);
            }
            Effect::Withdraw {
                amount,
                bank_account,
                key,
                pin,
            } => {
                let body = RequestBody::Withdraw(requests::Withdraw {
                    amount,
                    bank_account,
                    idempotency_key: key,
                    provider: None,
                    pin,
                });
                self.money(body, Done::Withdrawn);
            }
            Effect::LoadFundings => self.request(RequestBody::Fundings, |r: results::Fundings| {
                Some(Done::Fundings(r.fundings))
            }),
            Effect::OpenBrowser(url) => {
                // Whether it opened shows in the top-up box; a failure leaves the address there.
                crate::browser::open(&url);
            }
            Effect::Pay {
                to,
                amount,
                memo,
                conversation_id,
                key,
                pin,
                sealed_for,
            } => {
                let body = RequestBody::Pay(requests::Pay {
                    to,
                    amount,
                    memo,
                    conversation_id: Some(conversation_id),
                    idempotency_key: key,
                    pin,
                });
                self.money_after(sealed_for, body, |r: results::Paid| Done::Paid(r));
            }
            Effect::RequestMoney {
                from,
                amount,
                memo,
                conversation_id,
                key,
                sealed_for,
            } => {
                let body = RequestBody::RequestMoney(requests::RequestMoney {
                    from,
                    amount,
                    memo,
                    conversation_id: Some(conversation_id),
                    expires_in_secs: None,
                    idempotency_key: key,
                });
                self.money_after(sealed_for, body, |r: results::RequestMade| {
                    Done::Requested(vec![r.request])
                });
            }
            Effect::PayRequest {
                request_id,
                key,
                pin,
            } => {
                let body = RequestBody::PayRequest(requests::PayRequest {
                    request_id,
                    idempotency_key: key,
                    pin,
                });
                self.money(body, |r: results::Paid| Done::Paid(r));
            }
            Effect::PayInvoice {
                invoice_id,
                key,
                pin,
            } => {
                let body = RequestBody::PayInvoice(requests::PayInvoice {
                    invoice_id,
                    idempotency_key: key,
                    pin,
                });
                self.money(body, |r: results::Paid| Done::Paid(r));
            }
            Effect::DeclineRequest(request_id) => {
                self.money(
                    RequestBody::DeclineRequest(requests::DeclineRequest { request_id }),
                    |r: results::RequestMade| Done::RequestClosed(r.request),
                );
            }
            Effect::CancelRequest(request_id) => {
                self.money(
                    RequestBody::CancelRequest(requests::CancelRequest { request_id }),
                    |r: results::RequestMade| Done::RequestClosed(r.request),
                );
            }
            Effect::Split {
                conversation_id,
                amount,
                memo,
                key,
            } => {
                let body = RequestBody::Split(requests::Split {
                    conversation_id,
                    amount,
                    memo,
                    idempotency_key: key,
                    includes_me: true,
                });
                self.money(body, |r: results::Requests| Done::Requested(r.requests));
            }
            Effect::LoadStatement => {
                let body = RequestBody::Statement(requests::Statement {
                    before: None,
                    limit: requests::MAX_STATEMENT_LIMIT,
                });
                self.request(body, |r: results::Statement| Some(Done::Statement(r.lines)));
            }
            Effect::ExportStatement(lines) => self.export(lines),
            Effect::Notify { title, body } => self.notify(&title, &body),
            // The loop handles quitting itself.
            Effect::Quit => {}
        }
    }

    /// Sends `body`; `on_reply` turns the reply into a message for the state (or none).
    fn request<T, F>(&self, body: RequestBody, on_reply: F)
    where
        T: DeserializeOwned + Send + 'static,
        F: FnOnce(T) -> Option<Done> + Send + 'static,
    {
        let session = self.session.clone();
        let done = self.done.clone();
        tokio::spawn(async move {
            let what = request_name(&body);
            let outcome = match session.request::<T>(body).await {
                Ok(reply) => on_reply(reply),
                Err(SessionError::Offline) => Some(Done::Failed(format!(
                    "{what}: not connected; try again once connected"
                ))),
                Err(error) => Some(Done::Failed(format!("{what}: {error}"))),
            };
            if let Some(outcome) = outcome {
                let _ = done.send(outcome).await;
            }
        });
    }

    /// Sends `body` and lets it go: for notices that the next keystroke sends again (typing),
    /// whose failure is nothing the user needs to read.
    fn best_effort(&self, body: RequestBody) {
        let session = self.session.clone();
        tokio::spawn(async move {
            let what = request_name(&body);
            if let Err(error) = session.request::<results::Empty>(body).await {
                tracing::debug!(%error, what, "a best-effort notice was not sent");
            }
        });
    }

    /// Runs `job`; a failure goes to the notice line, named `what`.
    fn report(
        &self,
        job: impl std::future::Future<Output = Result<(), SessionError>> + Send + 'static,
        what: &'static str,
    ) {
        let done = self.done.clone();
        tokio::spawn(async move {
            if let Err(error) = job.await {
                let _ = done.send(Done::Failed(format!("{what}: {error}"))).await;
            }
        });
    }

    /// Loads a history page; a secret conversation's messages are read by this device first.
    fn history(
        &self,
        body: RequestBody,
        conversation_id: ConversationId,
        before: Option<MessageId>,
    ) {
        let session = self.session.clone();
        let done = self.done.clone();
        tokio::spawn(async move {
            let loaded = async {
                let mut page: results::History = session.request(body).await?;
                // Every page goes past the secret store, which reads what is sealed and marks
                // plain text in a conversation it knows is secret (the server's, not the
                // sender's); without one there is nothing to read.
                match session.reveal(page.messages.clone()).await {
                    Ok(revealed) => page.messages = revealed,
                    Err(SessionError::NoSecrets)
                        if page.messages.iter().all(|m| m.sealed.is_none()) => {}
                    Err(error) => return Err(error),
                }
                Ok::<_, SessionError>(page)
            };
            let outcome = match loaded.await {
                Ok(page) => Done::History {
                    conversation_id,
                    before,
                    page,
                },
                Err(SessionError::Offline) => {
                    Done::Failed("loading history: not connected; try again once connected".into())
                }
                Err(error) => Done::Failed(format!("loading history: {error}")),
            };
            let _ = done.send(outcome).await;
        });
    }

    /// Seals and sends a secret message; on failure the text comes back to the composer.
    fn send_secret(
        &self,
        conversation_id: ConversationId,
        client_id: ClientMsgId,
        other: String,
        text: String,
    ) {
        let session = self.session.clone();
        let done = self.done.clone();
        tokio::spawn(async move {
            let outcome = match session
                .send_secret(conversation_id, client_id, other, text.clone())
                .await
            {
                Ok(Some(message)) => Done::SecretSent { client_id, message },
                Ok(None) => Done::SecretHeld { conversation_id },
                Err(error) => Done::SecretNotSent {
                    client_id,
                    conversation_id,
                    text,
                    reason: why_not_sent(&error),
                },
            };
            let _ = done.send(outcome).await;
        });
    }

    /// Sends a money request; a refusal keeps its code, so the modal can react to it (ask for
    /// the PIN, offer a retry with the same idempotency key).
    fn money<T, F>(&self, body: RequestBody, on_reply: F)
    where
        T: DeserializeOwned + Send + 'static,
        F: FnOnce(T) -> Done + Send + 'static,
    {
        self.money_after(None, body, on_reply);
    }

    /// As [`Executor::money`]; with `sealed_for`, that person's devices (and this user's) are
    /// checked first, as sealing the memo will need, so a changed key stops the money, not
    /// only its memo.
    fn money_after<T, F>(&self, sealed_for: Option<String>, body: RequestBody, on_reply: F)
    where
        T: DeserializeOwned + Send + 'static,
        F: FnOnce(T) -> Done + Send + 'static,
    {
        let session = self.session.clone();
        let done = self.done.clone();
        tokio::spawn(async move {
            if let Some(other) = sealed_for
                && let Err(error) = session.secret_ready(other).await
            {
                let message = format!("{}; nothing moved", why_not_sent(&error));
                let failed = Done::MoneyFailed {
                    code: ErrorCode::Forbidden,
                    message,
                };
                let _ = done.send(failed).await;
                return;
            }
            let outcome = match session.request::<T>(body).await {
                Ok(reply) => on_reply(reply),
                Err(SessionError::Request(RequestError::Api(error))) => Done::MoneyFailed {
                    code: error.code,
                    message: error.message,
                },
                Err(error) => Done::MoneyFailed {
                    code: ErrorCode::Internal,
                    message: format!("{error}; Enter retries safely"),
                },
            };
            let _ = done.send(outcome).await;
        });
    }

    /// Writes the statement to `statement-DATE-TIME.csv` in the export directory.
    fn export(&self, lines: Vec<crate::protocol::payments::StatementLine>) {
        let name = chrono::Utc::now()
            .format("statement-%Y%m%d-%H%M%S.csv")
            .to_string();
        let path = self.export_dir.join(name);
        let done = self.done.clone();
        tokio::spawn(async move {
            let written = tokio::task::spawn_blocking(move || {
                let file = std::fs::File::create(&path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                crate::export::statement_csv(&lines, file)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Ok(path.display().to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("export failed: {e}")));
            let _ = done.send(Done::Exported(written)).await;
        });
    }

    fn notify(&self, title: &str, body: &str) {
        let mut out = std::io::stdout();
        if self.notify_bell {
            let _ = out.write_all(b"\x07");
        }
        if self.notify_osc {
            // OSC 777 (urxvt, foot, wezterm...) and OSC 9 (iTerm2, kitty...); terminals ignore
            // the one they do not know. Separators and controls are removed from peer text.
            let clean = |text: &str| inert_line(text).replace([';', '\u{7}'], " ");
            let (title, body) = (clean(title), clean(body));
            let _ = write!(
                out,
                "\x1b]777;notify;{title};{body}\x1b\\\x1b]9;{title}: {body}\x07"
            );
        }
        let _ = out.flush();
    }
}

/// Why a secret message was not sent, for the notice line: a changed key says what to do
/// first, since the line may be cut.
fn why_not_sent(error: &SessionError) -> String {
    use crate::secret::SecretError;
    use crate::secret::device::fingerprint;
    use crate::session::secret::SecretLinkError;
    match error {
        SessionError::Secret(SecretLinkError::Secret(SecretError::KeysChanged {
            username,
            mine,
            devices,
        })) => {
            let seen: Vec<String> = devices.iter().map(fingerprint).collect();
            let whose = if *mine {
                "of yours".to_owned()
            } else {
                format!("for {username}")
            };
            // What to do first, the fingerprints after: a narrow notice line cuts the end.
            format!(
                "new device {whose}: verify, then /accept-keys ({})",
                seen.join("; ")
            )
        }
        other => other.to_string(),
    }
}

/// OSC 52: the terminal puts `text` on the system clipboard (where it allows it).
fn copy_to_clipboard(text: &str) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
}

fn request_name(body: &RequestBody) -> &'static str {
    match body {
        RequestBody::Conversations => "loading conversations",
        RequestBody::History(requests::History { .. }) => "loading history",
        RequestBody::Search(requests::Search { .. }) => "search",
        RequestBody::EditMessage(requests::EditMessage { .. }) => "editing",
        RequestBody::DeleteMessage(requests::DeleteMessage { .. }) => "deleting",
        RequestBody::React(requests::React { .. }) => "reacting",
        RequestBody::OpenDirect(requests::OpenDirect { .. }) => "/dm",
        RequestBody::CreateGroup(requests::CreateGroup { .. }) => "/group",
        RequestBody::Leave(requests::Leave { .. }) => "/leave",
        RequestBody::Mute(requests::Mute { .. }) => "/mute",
        RequestBody::MarkRead(requests::MarkRead { .. }) => "marking read",
        RequestBody::Typing(requests::Typing { .. }) => "typing",
        _ => "request",
    }
}
