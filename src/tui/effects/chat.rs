//! Effects on conversations and their messages.

use super::{Executor, misrouted};
use crate::protocol::{ConversationId, MessageId, RequestBody, requests, results};
use crate::session::SessionError;
use crate::session::target::Target;
use crate::tui::state::{Done, Effect, HISTORY_PAGE};

/// Hits one search asks for: a screenful, and more than anyone reads through.
const SEARCH_RESULTS: u32 = 50;

impl Executor {
    /// Messages: sending, editing, deleting, reacting, marking read, typing.
    pub(super) fn messages(&self, effect: Effect) {
        match effect {
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
            other => misrouted(&other),
        }
    }

    /// Reading: a page of history, a search.
    pub(super) fn reading(&self, effect: Effect) {
        match effect {
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
            other => misrouted(&other),
        }
    }

    /// Conversations: the list, opening, creating, leaving, muting.
    pub(super) fn conversations(&self, effect: Effect) {
        match effect {
            Effect::LoadConversations => self
                .request(RequestBody::Conversations, |r: results::Conversations| {
                    Some(Done::Conversations(r.conversations))
                }),
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
            other => misrouted(&other),
        }
    }

    /// Loads a history page; a secret conversation's messages are read by this device first.
    pub(super) fn history(
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
}
