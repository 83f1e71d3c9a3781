//! Logging in again in place, after the server refused the session's token (a logout or a
//! revoke elsewhere): a password prompt over the chat. Messages typed meanwhile wait in the
//! outbox on disk and go out once the session is back.

use super::{App, Effect, Link};
use crate::untrusted::inert_line;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Longest password the prompt takes, in characters.
const MAX_PASSWORD_CHARS: usize = 1024;

/// The password prompt.
#[derive(Clone, PartialEq, Eq)]
pub struct LogIn {
    /// Why the session stopped, as the server said it (inert).
    pub reason: String,
    pub password: String,
    /// Sent, waiting for the server's answer.
    pub waiting: bool,
    /// Why the last try failed.
    pub error: Option<String>,
}

// Never prints the password, should the state be logged.
impl std::fmt::Debug for LogIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIn")
            .field("reason", &self.reason)
            .field("waiting", &self.waiting)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// A password on its way to the session; its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl App {
    /// The server refused the token: the session waits for a new one. Says so in the status
    /// bar and asks for the password.
    pub(super) fn on_refused(&mut self, reason: &str) {
        // The server's reason may already say to log in again: said once.
        let reason = inert_line(reason);
        let reason = reason
            .trim_end_matches("log in again")
            .trim_end_matches(['.', ';', ',', ' '])
            .to_owned();
        self.link = Link::Refused(reason.clone());
        self.open_log_in(reason);
    }

    fn open_log_in(&mut self, reason: String) {
        self.login = Some(LogIn {
            reason,
            password: String::new(),
            waiting: false,
            error: None,
        });
    }

    /// `/login`: the prompt again, after Esc put it away.
    pub(super) fn reopen_log_in(&mut self) {
        match &self.link {
            Link::Refused(reason) => {
                let reason = reason.clone();
                self.open_log_in(reason);
            }
            _ => self.error("the session is logged in; /login is for when the server refuses it"),
        }
    }

    pub(super) fn on_log_in_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        let Some(form) = &mut self.login else {
            return;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => self.login = None,
            KeyCode::Enter if !form.waiting && !form.password.is_empty() => {
                form.waiting = true;
                form.error = None;
                effects.push(Effect::LogIn {
                    username: self.username.clone(),
                    password: Password(std::mem::take(&mut form.password)),
                });
            }
            KeyCode::Char('u') if ctrl => form.password.clear(),
            KeyCode::Backspace => {
                form.password.pop();
            }
            KeyCode::Char(c)
                if !ctrl
                    && !c.is_control()
                    && form.password.chars().count() < MAX_PASSWORD_CHARS =>
            {
                form.password.push(c);
            }
            _ => {}
        }
    }

    /// The session took the new token: it reconnects and sends what waited.
    pub(super) fn on_logged_in(&mut self) {
        self.login = None;
        self.link = Link::Connecting;
        let queued = self.queued_count();
        let text = match queued {
            0 => "logged in again".to_owned(),
            1 => "logged in again; the queued message goes out now".to_owned(),
            n => format!("logged in again; the {n} queued messages go out now"),
        };
        self.info(text);
    }

    pub(super) fn on_log_in_failed(&mut self, reason: &str) {
        if let Some(form) = &mut self.login {
            form.waiting = false;
            form.error = Some(inert_line(reason));
        } else {
            self.error(format!("not logged in: {}", inert_line(reason)));
        }
    }
}
