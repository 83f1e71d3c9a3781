//! send, history, mark_read.

use crate::protocol::{ApiError, ClientMsgId, ConversationId, MessageId, User, results};
use crate::server::ServerState;
use crate::store::messages;

pub async fn send(
    state: &ServerState,
    me: &User,
    conversation_id: ConversationId,
    client_id: ClientMsgId,
    text: String,
) -> Result<results::Sent, ApiError> {
    // Refuse bad text before it takes a place in the writer's queue.
    crate::protocol::model::validate_text(&text)?;
    let me = me.clone();
    let (message, duplicate) = state
        .writer
        .write(move |ctx| messages::send(ctx, &me, conversation_id, client_id, &text))
        .await?;
    Ok(results::Sent { message, duplicate })
}

pub async fn history(
    state: &ServerState,
    me: &User,
    conversation_id: ConversationId,
    before: Option<MessageId>,
    limit: u32,
) -> Result<results::History, ApiError> {
    let me = me.id;
    let (messages, has_more) = state
        .store
        .read(move |conn| conn.history(me, conversation_id, before, limit))
        .await?;
    Ok(results::History { messages, has_more })
}

pub async fn mark_read(
    state: &ServerState,
    me: &User,
    conversation_id: ConversationId,
    up_to: MessageId,
) -> Result<results::Empty, ApiError> {
    let me = me.clone();
    state
        .writer
        .write(move |ctx| messages::mark_read(ctx, &me, conversation_id, up_to))
        .await?;
    Ok(results::Empty {})
}
