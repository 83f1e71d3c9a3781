//! conversations, open_direct, create_group, add_member, leave.

use crate::protocol::{ApiError, ConversationId, ServerFrame, User, results};
use crate::server::ServerState;
use crate::store::conversations;

pub async fn list(state: &ServerState, me: &User) -> Result<results::Conversations, ApiError> {
    let me = me.id;
    let conversations = state
        .store
        .read(move |conn| conn.conversations_of(me))
        .await?;
    Ok(results::Conversations { conversations })
}

pub async fn open_direct(
    state: &ServerState,
    me: &User,
    username: String,
) -> Result<results::OneConversation, ApiError> {
    let me = me.clone();
    let conversation = state
        .writer
        .write(move |ctx| conversations::open_direct(ctx, &me, &username))
        .await?;
    Ok(results::OneConversation { conversation })
}

pub async fn create_group(
    state: &ServerState,
    me: &User,
    name: String,
    members: Vec<String>,
) -> Result<results::OneConversation, ApiError> {
    let me = me.clone();
    let conversation = state
        .writer
        .write(move |ctx| conversations::create_group(ctx, &me, &name, &members))
        .await?;
    Ok(results::OneConversation { conversation })
}

pub async fn add_member(
    state: &ServerState,
    me: &User,
    conversation_id: ConversationId,
    username: String,
) -> Result<results::OneConversation, ApiError> {
    let me = me.clone();
    let conversation = state
        .writer
        .write(move |ctx| conversations::add_member(ctx, &me, conversation_id, &username))
        .await?;
    Ok(results::OneConversation { conversation })
}

pub async fn leave(
    state: &ServerState,
    me: &User,
    conversation_id: ConversationId,
) -> Result<results::Empty, ApiError> {
    let me = me.clone();
    state
        .writer
        .write(move |ctx| conversations::leave(ctx, &me, conversation_id))
        .await?;
    Ok(results::Empty {})
}

/// Relays "typing" to the other members who are online. Nothing is stored.
pub async fn typing(
    state: &ServerState,
    me: &User,
    conversation_id: ConversationId,
) -> Result<results::Empty, ApiError> {
    let my_id = me.id;
    let others: Vec<_> = state
        .store
        .read(move |conn| {
            conn.require_member(conversation_id, my_id)?;
            conn.members(conversation_id)
        })
        .await?
        .into_iter()
        .map(|member| member.id)
        .filter(|&id| id != my_id)
        .collect();
    let frame = ServerFrame::Typing {
        conversation_id,
        user: me.clone(),
    };
    let frame = serde_json::to_string(&frame).map_err(|_| ApiError::internal())?;
    let frame: std::sync::Arc<str> = frame.into();
    state
        .hub
        .publish_ephemeral(&others, std::sync::Arc::clone(&frame));
    state.nodes.typing(&others, frame);
    Ok(results::Empty {})
}
