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
use crate::protocol::{ApiError, ErrorCode, RequestBody, User};
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

/// Routes a request to its handler and serializes the reply.
pub async fn dispatch(
    state: &ServerState,
    caller: &Caller<'_>,
    body: RequestBody,
) -> Result<serde_json::Value, ApiError> {
    use RequestBody as R;
    match body {
        R::Hello(_) => Err(ApiError::invalid("hello is only valid once, first")),
        R::Register(request) => reply(request.apply(state, caller).await),
        R::Login(request) => reply(request.apply(state, caller).await),
        R::Logout => reply(accounts::logout(state, caller).await),
        R::Sessions => reply(accounts::sessions(state, caller).await),
        R::RevokeSession(request) => reply(request.apply(state, caller).await),
        R::Conversations => reply(conversations::list(state, caller).await),
        R::OpenDirect(request) => reply(request.apply(state, caller).await),
        R::CreateGroup(request) => reply(request.apply(state, caller).await),
        R::AddMember(request) => reply(request.apply(state, caller).await),
        R::Leave(request) => reply(request.apply(state, caller).await),
        R::Mute(request) => reply(request.apply(state, caller).await),
        R::Typing(request) => reply(request.apply(state, caller).await),
        R::Send(request) => reply(request.apply(state, caller).await),
        R::EditMessage(request) => reply(request.apply(state, caller).await),
        R::DeleteMessage(request) => reply(request.apply(state, caller).await),
        R::React(request) => reply(request.apply(state, caller).await),
        R::History(request) => reply(request.apply(state, caller).await),
        R::Search(request) => reply(request.apply(state, caller).await),
        R::MarkRead(request) => reply(request.apply(state, caller).await),
        R::Balance => reply(payments::balance(state, caller).await),
        R::Pay(request) => reply(request.apply(state, caller).await),
        R::RequestMoney(request) => reply(request.apply(state, caller).await),
        R::Split(request) => reply(request.apply(state, caller).await),
        R::PayRequest(request) => reply(request.apply(state, caller).await),
        R::DeclineRequest(request) => reply(request.apply(state, caller).await),
        R::CancelRequest(request) => reply(request.apply(state, caller).await),
        R::Requests => reply(payments::requests(state, caller).await),
        R::Statement(request) => reply(request.apply(state, caller).await),
        R::SetPin(request) => reply(request.apply(state, caller).await),
        R::SendInvoice(request) => reply(request.apply(state, caller).await),
        R::PayInvoice(request) => reply(request.apply(state, caller).await),
        R::Refund(request) => reply(request.apply(state, caller).await),
        R::Invoices => reply(invoices::list(state, caller).await),
        R::PublishKeys(request) => reply(request.apply(state, caller).await),
        R::Devices(request) => reply(request.apply(state, caller).await),
        R::ClaimKeys(request) => reply(request.apply(state, caller).await),
        R::OpenSecret(request) => reply(request.apply(state, caller).await),
        R::SendSealed(request) => reply(request.apply(state, caller).await),
        R::Topup(request) => reply(request.apply(state, caller).await),
        R::Withdraw(request) => reply(request.apply(state, caller).await),
        R::Fundings => reply(funding::list(state, caller).await),
    }
}

fn reply(result: Result<impl Serialize, ApiError>) -> Result<serde_json::Value, ApiError> {
    to_json(result?)
}

fn to_json(result: impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(result).map_err(|e| {
        tracing::error!(error = %e, "cannot serialize reply");
        ApiError::internal()
    })
}
