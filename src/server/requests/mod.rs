//! One module per family of requests, each request its own `Handler` (the request types are
//! `protocol::requests`); `dispatch` routes a parsed request to its handler. Handlers check
//! who may do what, then read through the store or write through the writer. The hello is
//! handled by the connection itself, since it changes the connection's state.

mod accounts;
mod conversations;
mod funding;
mod invoices;
mod messages;
mod payments;
mod search;
mod secret;

use super::ServerState;
use crate::protocol::requests::for_each_request;
use crate::protocol::{ApiError, ErrorCode, RequestBody, User, requests};
use serde::Serialize;

/// Who is asking: the user behind this connection's token, if any.
pub struct Caller<'a> {
    pub user: Option<&'a User>,
    /// Where the connection comes from; brute-force limits count per address.
    pub address: std::net::IpAddr,
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

/// A request the server answers, one type each (mini-redis's command shape): the frame was
/// parsed into `self`; `apply` checks who may ask, reads through the store or writes through
/// the writer, and returns the reply.
pub(super) trait Handler {
    type Reply: Serialize;

    async fn apply(self, state: &ServerState, caller: &Caller<'_>)
    -> Result<Self::Reply, ApiError>;
}

/// Makes `dispatch` from the protocol's list of requests: every request goes to its handler.
macro_rules! dispatcher {
    (
        bodies { $($(#[$doc:meta])* $body:ident = $body_name:literal,)* }
        bare { $($(#[$bare_doc:meta])* $bare:ident = $bare_name:literal,)* }
    ) => {
        /// Routes a request to its handler and serializes the reply.
        pub async fn dispatch(
            state: &ServerState,
            caller: &Caller<'_>,
            body: RequestBody,
        ) -> Result<serde_json::Value, ApiError> {
            match body {
                $(RequestBody::$body(request) => reply(request.apply(state, caller).await),)*
                $(RequestBody::$bare => reply(requests::$bare.apply(state, caller).await),)*
            }
        }
    };
}

for_each_request!(dispatcher);

fn reply(result: Result<impl Serialize, ApiError>) -> Result<serde_json::Value, ApiError> {
    to_json(result?)
}

fn to_json(result: impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(result).map_err(|e| {
        tracing::error!(error = %e, "cannot serialize reply");
        ApiError::internal()
    })
}
