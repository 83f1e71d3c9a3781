//! Verifying the other person of a secret conversation: `/verify` starts it, the code both
//! screens should show is put before the user, and `/verify yes` or `/verify no` answers.

use super::{App, Effect, NoticeKind};
use crate::session::VerifyEvent;
use crate::untrusted::inert_line;

/// A code to compare with the other person's screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparing {
    pub conversation_id: crate::protocol::ConversationId,
    pub txn: String,
    pub username: String,
    pub emoji: String,
    pub decimals: String,
}

impl App {
    /// `/verify`, `/verify yes`, `/verify no`.
    pub(super) fn verify_command(&mut self, answer: Option<bool>, effects: &mut Vec<Effect>) {
        let Some(entry) = self.selected_entry().filter(|entry| entry.secret) else {
            self.error("/verify works in a secret conversation; this is not one");
            return;
        };
        let (conversation_id, other) = (entry.id, entry.name.clone());
        match (answer, self.comparing.take()) {
            // The other person asked first: answering is comparing, not a second verification
            // (which would cross this one and print every step twice).
            (None, Some(comparing)) if comparing.conversation_id == conversation_id => {
                self.info(format!(
                    "the code is on screen: if {other}'s shows the same, /verify yes; else \
                     /verify no"
                ));
                self.comparing = Some(comparing);
            }
            (None, comparing) => {
                self.comparing = comparing;
                effects.push(Effect::Verify {
                    conversation_id,
                    other: other.clone(),
                });
                self.info(format!(
                    "asked {other} to verify; their screen and yours will show the same code"
                ));
            }
            (Some(matches), Some(comparing)) if comparing.conversation_id == conversation_id => {
                effects.push(Effect::Compared {
                    txn: comparing.txn,
                    matches,
                });
            }
            (Some(_), comparing) => {
                self.comparing = comparing;
                self.error("there is no code to compare here yet: /verify starts");
            }
        }
    }

    pub(super) fn on_verify(&mut self, event: VerifyEvent) {
        match event {
            VerifyEvent::Compare {
                conversation_id,
                txn,
                username,
                emoji,
                decimals,
            } => {
                self.comparing = Some(Comparing {
                    conversation_id,
                    txn,
                    username: inert_line(&username),
                    emoji: inert_line(&emoji),
                    decimals: inert_line(&decimals),
                });
            }
            VerifyEvent::Verified {
                conversation_id,
                username,
            } => {
                self.comparing = None;
                self.set_verified(&username, true);
                self.notify_in(
                    Some(conversation_id),
                    NoticeKind::Info,
                    format!("{} is verified", inert_line(&username)),
                );
            }
            VerifyEvent::Failed {
                conversation_id,
                reason,
            } => {
                self.comparing = None;
                self.notify_in(
                    Some(conversation_id),
                    NoticeKind::Error,
                    format!("not verified: {}", inert_line(&reason)),
                );
            }
            VerifyEvent::Trusted {
                usernames,
                secret_conversations,
            } => {
                self.verified = usernames.iter().map(|u| inert_line(u)).collect();
                self.known_secret = secret_conversations.into_iter().collect();
                for entry in &mut self.conversations {
                    entry.secret |= self.known_secret.contains(&entry.id);
                    entry.verified = entry.secret && self.verified.contains(&entry.name);
                }
            }
        }
    }

    /// Marks the secret conversations with `username` verified, or not (new keys accepted).
    pub(super) fn set_verified(&mut self, username: &str, verified: bool) {
        let name = inert_line(username);
        match verified {
            true => self.verified.insert(name.clone()),
            false => self.verified.remove(&name),
        };
        for entry in &mut self.conversations {
            if entry.secret && entry.name == name {
                entry.verified = verified;
            }
        }
    }
}
