//! conversations, open_direct, create_group, add_member, leave, typing.

use super::{Caller, Handler};
use crate::protocol::requests::{
    AddMember, Conversations, CreateGroup, Leave, Mute, OpenDirect, Typing,
};
use crate::protocol::{ApiError, ServerFrame, results};
use crate::server::ServerState;
use crate::store::conversations;
use std::sync::Arc;

impl Handler for Conversations {
    type Reply = results::Conversations;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let conversations = state
            .store
            .read(move |conn| conn.conversations_of(me))
            .await?;
        Ok(results::Conversations { conversations })
    }
}

impl Handler for OpenDirect {
    type Reply = results::OneConversation;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        let conversation = state
            .writer
            .write(move |ctx| conversations::open_direct(ctx, &me, &self.username))
            .await?;
        Ok(results::OneConversation { conversation })
    }
}

impl Handler for CreateGroup {
    type Reply = results::OneConversation;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        let conversation = state
            .writer
            .write(move |ctx| conversations::create_group(ctx, &me, &self.name, &self.members))
            .await?;
        Ok(results::OneConversation { conversation })
    }
}

impl Handler for AddMember {
    type Reply = results::OneConversation;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        let conversation = state
            .writer
            .write(move |ctx| {
                conversations::add_member(ctx, &me, self.conversation_id, &self.username)
            })
            .await?;
        Ok(results::OneConversation { conversation })
    }
}

impl Handler for Leave {
    type Reply = results::Empty;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        state
            .writer
            .write(move |ctx| conversations::leave(ctx, &me, self.conversation_id))
            .await?;
        Ok(results::Empty {})
    }
}

/// Relays "typing" to the other members who are online, here and on the other nodes.
/// Nothing is stored.
impl Handler for Typing {
    type Reply = results::Empty;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?;
        let (my_id, conversation_id) = (me.id, self.conversation_id);
        state
            .store
            .read(move |conn| conn.require_member(conversation_id, my_id))
            .await?;
        let frame = ServerFrame::Typing {
            conversation_id,
            user: me.clone(),
        };
        let frame: Arc<str> = serde_json::to_string(&frame)
            .map_err(|_| ApiError::internal())?
            .into();
        state
            .hub
            .publish_typing(conversation_id, my_id, Arc::clone(&frame));
        state.nodes.typing(conversation_id, my_id, frame);
        Ok(results::Empty {})
    }
}

impl Handler for Mute {
    type Reply = results::OneConversation;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        let conversation = state
            .writer
            .write(move |ctx| conversations::mute(ctx, &me, self.conversation_id, self.muted))
            .await?;
        Ok(results::OneConversation { conversation })
    }
}
