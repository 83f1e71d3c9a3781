//! send, edit_message, delete_message, react, message, history, mark_read.

use super::{Caller, Handler};
use crate::protocol::requests::{
    DeleteMessage, EditMessage, GetMessage, History, MarkRead, React, Send,
};
use crate::protocol::{ApiError, Message, User, results};
use crate::server::ServerState;
use crate::store::messages;
use crate::store::writer::WriteCtx;

impl Handler for Send {
    type Reply = results::Sent;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        // Refuse bad text before it takes a place in the writer's queue.
        crate::protocol::model::validate_caption(&self.text, self.file.is_some())?;
        let conversation_id = self.conversation_id;
        let (message, duplicate) = state
            .writer
            .write_in(conversation_id, move |ctx| messages::send(ctx, &me, &self))
            .await?;
        Ok(results::Sent { message, duplicate })
    }
}

impl Handler for GetMessage {
    type Reply = results::OneMessage;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let id = self.message_id;
        state
            .store
            .read(move |db| {
                let found = db.find_message(id)?;
                // Someone else's message does not exist, as far as this caller can tell.
                let visible = match &found {
                    Some(message) => db.membership(message.conversation_id, me).is_ok(),
                    None => false,
                };
                match (found, visible) {
                    (Some(message), true) => Ok(results::OneMessage { message }),
                    _ => Err(ApiError::not_found(format!("no message {id}"))),
                }
            })
            .await
    }
}

impl Handler for History {
    type Reply = results::History;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let History {
            conversation_id,
            before,
            limit,
        } = self;
        state
            .store
            .read(move |conn| {
                let (messages, has_more) = conn.history(me, conversation_id, before, limit)?;
                let others_read = conn.conversation_head(conversation_id, me)?.others_read;
                Ok(results::History {
                    messages,
                    has_more,
                    others_read_up_to: (others_read.0 > 0).then_some(others_read),
                })
            })
            .await
    }
}

impl Handler for MarkRead {
    type Reply = results::Empty;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        state
            .writer
            .write_in(self.conversation_id, move |ctx| {
                messages::mark_read(ctx, &me, self.conversation_id, self.up_to)
            })
            .await?;
        Ok(results::Empty {})
    }
}

impl Handler for EditMessage {
    type Reply = results::OneMessage;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        crate::protocol::model::validate_text(&self.text)?;
        changing(state, caller, move |ctx, me| {
            messages::edit(ctx, me, self.message_id, &self.text)
        })
        .await
    }
}

impl Handler for DeleteMessage {
    type Reply = results::OneMessage;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        changing(state, caller, move |ctx, me| {
            messages::delete(ctx, me, self.message_id)
        })
        .await
    }
}

impl Handler for React {
    type Reply = results::OneMessage;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        crate::protocol::model::validate_reaction(&self.emoji)?;
        changing(state, caller, move |ctx, me| {
            messages::react(ctx, me, self.message_id, &self.emoji, self.remove)
        })
        .await
    }
}

/// Runs a change to one message (`change`, as the caller) on the writer; the message after.
async fn changing(
    state: &ServerState,
    caller: &Caller<'_>,
    change: impl Fn(&mut WriteCtx, &User) -> Result<Message, ApiError> + std::marker::Send + 'static,
) -> Result<results::OneMessage, ApiError> {
    let me = caller.user()?.clone();
    let message = state.writer.write(move |ctx| change(ctx, &me)).await?;
    Ok(results::OneMessage { message })
}
