//! Effects in secret conversations.

use super::{Executor, misrouted};
use crate::protocol::{ClientMsgId, ConversationId, RequestBody, requests, results};
use crate::session::SessionError;
use crate::tui::state::{Done, Effect};

impl Executor {
    /// Secret conversations: opening, sealing, verifying, timers, accepting keys.
    pub(super) fn secret(&self, effect: Effect) {
        match effect {
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
            other => misrouted(&other),
        }
    }

    /// Seals and sends a secret message; on failure the text comes back to the composer.
    pub(super) fn send_secret(
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
}

/// Why a secret message was not sent, for the notice line: a changed key says what to do
/// first, since the line may be cut.
pub(super) fn why_not_sent(error: &SessionError) -> String {
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
