//! One module per family of requests; `dispatch` routes a parsed request to its handler.
//! Handlers check who may do what, then read through the store or write through the writer.
//! The hello is handled by the connection itself, since it changes the connection's state.

mod accounts;
mod conversations;
mod messages;

use super::ServerState;
use crate::protocol::{ApiError, ErrorCode, RequestBody, User};
use serde::Serialize;

/// Who is asking: the user behind this connection's token, if any.
pub struct Caller<'a> {
    pub user: Option<&'a User>,
    /// The hash of the token this connection was opened with; logout revokes it.
    pub token_hash: Option<&'a str>,
}

impl Caller<'_> {
    fn user(&self) -> Result<&User, ApiError> {
        self.user.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "log in first: reconnect with the token from login in the Authorization header",
            )
        })
    }

    fn require_anonymous(&self) -> Result<(), ApiError> {
        match self.user {
            None => Ok(()),
            Some(user) => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                format!(
                    "this connection is already logged in as {}; register and login need an anonymous connection",
                    user.username
                ),
            )),
        }
    }
}

pub async fn dispatch(
    state: &ServerState,
    caller: &Caller<'_>,
    body: RequestBody,
) -> Result<serde_json::Value, ApiError> {
    match body {
        RequestBody::Hello { .. } => Err(ApiError::invalid("hello is only valid once, first")),
        RequestBody::Register { username, password } => {
            caller.require_anonymous()?;
            to_json(accounts::register(state, username, password).await?)
        }
        RequestBody::Login { username, password } => {
            caller.require_anonymous()?;
            to_json(accounts::login(state, username, password).await?)
        }
        RequestBody::Logout => {
            caller.user()?;
            to_json(accounts::logout(state, caller.token_hash).await?)
        }
        RequestBody::Conversations => to_json(conversations::list(state, caller.user()?).await?),
        RequestBody::OpenDirect { username } => {
            to_json(conversations::open_direct(state, caller.user()?, username).await?)
        }
        RequestBody::CreateGroup { name, members } => {
            to_json(conversations::create_group(state, caller.user()?, name, members).await?)
        }
        RequestBody::AddMember {
            conversation_id,
            username,
        } => to_json(
            conversations::add_member(state, caller.user()?, conversation_id, username).await?,
        ),
        RequestBody::Leave { conversation_id } => {
            to_json(conversations::leave(state, caller.user()?, conversation_id).await?)
        }
        RequestBody::Send {
            conversation_id,
            client_id,
            text,
        } => {
            to_json(messages::send(state, caller.user()?, conversation_id, client_id, text).await?)
        }
        RequestBody::History {
            conversation_id,
            before,
            limit,
        } => {
            to_json(messages::history(state, caller.user()?, conversation_id, before, limit).await?)
        }
        RequestBody::MarkRead {
            conversation_id,
            up_to,
        } => to_json(messages::mark_read(state, caller.user()?, conversation_id, up_to).await?),
        RequestBody::Typing { conversation_id } => {
            to_json(conversations::typing(state, caller.user()?, conversation_id).await?)
        }
    }
}

fn to_json(result: impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(result).map_err(|e| {
        tracing::error!(error = %e, "cannot serialize reply");
        ApiError::internal()
    })
}
