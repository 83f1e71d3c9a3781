//! One module per family of requests; `dispatch` routes a parsed request to its handler.
//! Handlers check who may do what, then read through the store or write through the writer.
//! The hello is handled by the connection itself, since it changes the connection's state.

mod accounts;
mod conversations;
mod invoices;
mod messages;
mod payments;

use super::ServerState;
use crate::ledger;
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

pub async fn dispatch(
    state: &ServerState,
    caller: &Caller<'_>,
    body: RequestBody,
) -> Result<serde_json::Value, ApiError> {
    match body {
        RequestBody::Hello { .. } => Err(ApiError::invalid("hello is only valid once, first")),
        RequestBody::Register { username, password } => {
            caller.require_anonymous()?;
            to_json(accounts::register(state, caller, username, password).await?)
        }
        RequestBody::Login { username, password } => {
            caller.require_anonymous()?;
            to_json(accounts::login(state, caller, username, password).await?)
        }
        RequestBody::Logout => to_json(accounts::logout(state, caller).await?),
        RequestBody::Sessions => to_json(accounts::sessions(state, caller).await?),
        RequestBody::RevokeSession { session_id } => {
            to_json(accounts::revoke_session(state, caller, session_id).await?)
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
        RequestBody::Balance => to_json(payments::balance(state, caller.user()?).await?),
        RequestBody::Pay {
            to,
            amount,
            memo,
            conversation_id,
            idempotency_key,
            pin,
        } => to_json(
            payments::pay(
                state,
                caller.user()?,
                to,
                amount,
                memo,
                conversation_id,
                idempotency_key,
                pin,
            )
            .await?,
        ),
        RequestBody::RequestMoney {
            from,
            amount,
            memo,
            conversation_id,
            expires_in_secs,
            idempotency_key,
        } => to_json(
            payments::request_money(
                state,
                caller.user()?,
                from,
                amount,
                memo,
                conversation_id,
                expires_in_secs,
                idempotency_key,
            )
            .await?,
        ),
        RequestBody::Split {
            conversation_id,
            amount,
            memo,
            idempotency_key,
        } => to_json(
            payments::split(
                state,
                caller.user()?,
                conversation_id,
                amount,
                memo,
                idempotency_key,
            )
            .await?,
        ),
        RequestBody::PayRequest {
            request_id,
            idempotency_key,
            pin,
        } => to_json(
            payments::pay_request(state, caller.user()?, request_id, idempotency_key, pin).await?,
        ),
        RequestBody::DeclineRequest { request_id } => to_json(
            payments::close_request(state, caller.user()?, request_id, ledger::requests::decline)
                .await?,
        ),
        RequestBody::CancelRequest { request_id } => to_json(
            payments::close_request(state, caller.user()?, request_id, ledger::requests::cancel)
                .await?,
        ),
        RequestBody::Requests => to_json(payments::requests(state, caller.user()?).await?),
        RequestBody::Statement { before, limit } => {
            to_json(payments::statement(state, caller.user()?, before, limit).await?)
        }
        RequestBody::SendInvoice {
            conversation_id,
            items,
            currency,
            total_minor,
            payload,
            expires_in_secs,
            idempotency_key,
        } => {
            let frame = invoices::SendInvoice {
                conversation_id,
                items,
                currency,
                total_minor,
                payload,
                expires_in_secs,
                key: idempotency_key,
            };
            to_json(invoices::send(state, caller.user()?, frame).await?)
        }
        RequestBody::PayInvoice {
            invoice_id,
            idempotency_key,
            pin,
        } => to_json(invoices::pay(state, caller.user()?, invoice_id, idempotency_key, pin).await?),
        RequestBody::Refund {
            invoice_id,
            amount,
            idempotency_key,
        } => to_json(
            invoices::refund(state, caller.user()?, invoice_id, amount, idempotency_key).await?,
        ),
        RequestBody::Invoices => to_json(invoices::list(state, caller.user()?).await?),
        RequestBody::SetPin { pin, current_pin } => {
            to_json(payments::set_pin(state, caller.user()?, pin, current_pin).await?)
        }
    }
}

fn to_json(result: impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(result).map_err(|e| {
        tracing::error!(error = %e, "cannot serialize reply");
        ApiError::internal()
    })
}
