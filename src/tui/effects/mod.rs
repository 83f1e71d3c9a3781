//! Carries out the state's effects against the session, each in its own task, and reports
//! the outcome back to the loop as a [`Done`] message. Notifications go to the terminal.
//! One file per family of effects (`chat`, `files`, `money`, `secret`), as `server/requests/` is
//! split; this one routes them and holds what they share.

mod chat;
mod files;
mod money;
mod secret;

use super::state::{Done, Effect};
use crate::config::TuiSettings;
use crate::protocol::requests;
use crate::protocol::{RequestBody, results};
use crate::session::{Session, SessionError};
use crate::untrusted::inert_line;
use serde::de::DeserializeOwned;
use std::io::Write;
use tokio::sync::mpsc;

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

    /// Hands `effect` to its family.
    pub fn run(&self, effect: Effect) {
        use Effect as E;
        match effect {
            E::LoadHistory { .. } | E::Search { .. } => self.reading(effect),
            E::Send { .. }
            | E::EditMessage { .. }
            | E::DeleteMessage(_)
            | E::React { .. }
            | E::MarkRead { .. }
            | E::Typing(_) => self.messages(effect),
            E::LoadConversations
            | E::Mute { .. }
            | E::OpenDirect(_)
            | E::CreateGroup { .. }
            | E::Leave(_) => self.conversations(effect),
            E::Pay { .. } | E::PayRequest { .. } | E::PayInvoice { .. } => self.payments(effect),
            E::RequestMoney { .. }
            | E::DeclineRequest(_)
            | E::CancelRequest(_)
            | E::Split { .. } => self.requests(effect),
            E::LoadBalance
            | E::Topup { .. }
            | E::Withdraw { .. }
            | E::LoadFundings
            | E::LoadStatement
            | E::ExportStatement(_) => self.wallet(effect),
            E::OpenSecret(_)
            | E::SendSecret { .. }
            | E::Verify { .. }
            | E::Compared { .. }
            | E::SetTimer { .. }
            | E::AcceptKeys(_) => self.secret(effect),
            E::SendFile { .. } | E::SaveFile { .. } => self.files(effect),
            E::LogIn { .. } | E::Copy(_) | E::OpenBrowser(_) | E::Notify { .. } | E::Quit => {
                self.terminal(effect)
            }
        }
    }

    /// What happens here, not on the server: logging in again, the clipboard, the browser, notifications.
    pub(super) fn terminal(&self, effect: Effect) {
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
            Effect::Copy(text) => copy_to_clipboard(&text),
            Effect::OpenBrowser(url) => {
                // Whether it opened shows in the top-up box; a failure leaves the address there.
                crate::browser::open(&url);
            }
            Effect::Notify { title, body } => self.notify(&title, &body),
            // The loop handles quitting itself.
            Effect::Quit => {}
            other => misrouted(&other),
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

/// An effect handed to a family that does not carry it out: `run` routes each to its own, so
/// this is a slip in the routing, logged rather than crashing the TUI.
fn misrouted(effect: &Effect) {
    tracing::error!(?effect, "an effect went to the wrong family");
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
