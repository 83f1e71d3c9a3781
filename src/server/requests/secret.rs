//! Secret conversations: the key directory (publish_keys, devices, claim_keys), open_secret
//! and send_sealed.

use super::{Caller, Handler};
use crate::protocol::requests::{ClaimKeys, Devices, OpenSecret, PublishKeys, SendSealed};
use crate::protocol::{ApiError, results};
use crate::server::ServerState;
use crate::store::{conversations, devices, messages};

impl Handler for PublishKeys {
    type Reply = results::KeysPublished;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        let one_time_keys = state
            .writer
            .write(move |ctx| {
                devices::publish(
                    ctx,
                    &me,
                    &self.device,
                    &self.one_time_keys,
                    self.fallback_key.as_ref(),
                )
            })
            .await?;
        Ok(results::KeysPublished { one_time_keys })
    }
}

impl Handler for Devices {
    type Reply = results::Devices;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        caller.user()?;
        let devices = state
            .store
            .read(move |conn| {
                let user = conn.user_by_name(&self.username)?;
                conn.devices_of(user.id)
            })
            .await?;
        Ok(results::Devices { devices })
    }
}

impl Handler for ClaimKeys {
    type Reply = results::ClaimedKeys;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        caller.user()?;
        let claimed = state
            .writer
            .write(move |ctx| devices::claim(ctx, &self.devices))
            .await?;
        Ok(results::ClaimedKeys {
            keys: claimed.keys,
            unavailable: claimed.unavailable,
        })
    }
}

impl Handler for OpenSecret {
    type Reply = results::OneConversation;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        let conversation = state
            .writer
            .write(move |ctx| conversations::open_secret(ctx, &me, &self.username))
            .await?;
        Ok(results::OneConversation { conversation })
    }
}

impl Handler for SendSealed {
    type Reply = results::Sent;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        // Refuse a malformed message before it takes a place in the writer's queue.
        self.sealed.validate_form()?;
        let (message, duplicate) = state
            .writer
            .write_in(self.conversation_id, move |ctx| {
                messages::send_sealed(
                    ctx,
                    &me,
                    self.conversation_id,
                    self.client_id,
                    &self.sealed,
                    self.expires_in_secs,
                )
            })
            .await?;
        Ok(results::Sent { message, duplicate })
    }
}
