//! register, login, logout, sessions, revoke_session.

use super::{Caller, Handler};
use crate::protocol::accounts::{validate_password, validate_username};
use crate::protocol::requests::{Hello, Login, Logout, Register, RevokeSession, Sessions};
use crate::protocol::{ApiError, ErrorCode, results};
use crate::server::throttle::Key;
use crate::server::{ServerState, auth};
use crate::store::accounts;
use crate::store::sessions as session_store;
use std::time::Instant;

impl Handler for Register {
    type Reply = results::Auth;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        caller.require_anonymous()?;
        let Register { username, password } = self;
        validate_username(&username)?;
        validate_password(&password)?;
        admit(state, &[Key::register_from(caller.address)])?;
        let hash = state.hasher.hash(password).await?;
        let token = auth::new_token();
        let token_hash = auth::token_hash(&token);
        let user = state
            .writer
            .write(move |ctx| {
                let user = accounts::create_user(ctx, &username, &hash)?;
                session_store::insert_token(ctx, &token_hash, user.id)?;
                Ok(user)
            })
            .await?;
        tracing::info!(user = %user.username, "registered");
        Ok(results::Auth { user, token })
    }
}

impl Handler for Login {
    type Reply = results::Auth;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        caller.require_anonymous()?;
        let Login { username, password } = self;
        // As registration has them: no name outside these rules exists, and checking first
        // keeps a 64 KiB name out of the throttle's table and a newline out of the log.
        validate_username(&username)?;
        let for_username = Key::Username(username.clone());
        admit(
            state,
            &[for_username.clone(), Key::login_from(caller.address)],
        )?;
        let lookup = username.clone();
        let found = state
            .store
            .read(move |conn| conn.credentials(&lookup))
            .await?;
        let (user, hash) = found.unzip();
        let verified = state.hasher.verify(password, hash).await?;
        let user = user.filter(|_| verified).ok_or_else(|| {
            tracing::info!(%username, address = %caller.address, "wrong password");
            ApiError::new(
                ErrorCode::InvalidCredentials,
                format!("wrong username or password for {username:?}"),
            )
        })?;
        state.throttle.forgive(&for_username);
        let token = auth::new_token();
        let token_hash = auth::token_hash(&token);
        let user_id = user.id;
        state
            .writer
            .write(move |ctx| session_store::insert_token(ctx, &token_hash, user_id))
            .await?;
        tracing::info!(user = %user.username, "logged in");
        Ok(results::Auth { user, token })
    }
}

/// Counts an attempt against `keys`, or refuses it with `rate_limited` and the wait.
fn admit(state: &ServerState, keys: &[Key]) -> Result<(), ApiError> {
    state
        .throttle
        .admit(keys, Instant::now())
        .map_err(|wait| ApiError::rate_limited(wait, "too many attempts"))
}

/// The hello is handled by the connection before any request (it sets the connection up);
/// one that comes later is refused.
impl Handler for Hello {
    type Reply = results::Empty;

    async fn apply(self, _: &ServerState, _: &Caller<'_>) -> Result<Self::Reply, ApiError> {
        Err(ApiError::invalid("hello is only valid once, first"))
    }
}

impl Handler for Logout {
    type Reply = results::Empty;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        caller.user()?;
        if let Some(hash) = caller.token_hash.map(str::to_owned) {
            revoke(state, hash).await?;
        }
        Ok(results::Empty {})
    }
}

impl Handler for Sessions {
    type Reply = results::Sessions;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let current = caller.token_hash.map(str::to_owned);
        let sessions = state
            .store
            .read(move |conn| conn.sessions_of(me, current.as_deref()))
            .await?;
        Ok(results::Sessions { sessions })
    }
}

impl Handler for RevokeSession {
    type Reply = results::Empty;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let hash = state
            .store
            .read(move |conn| conn.session_hash(me, &self.session_id))
            .await?;
        revoke(state, hash).await?;
        Ok(results::Empty {})
    }
}

/// Deletes the token, then closes its live connections on this server at once (others follow
/// the revocation log).
async fn revoke(state: &ServerState, token_hash: String) -> Result<(), ApiError> {
    let hash = token_hash.clone();
    state
        .writer
        .write(move |ctx| session_store::revoke_token(ctx, &hash))
        .await?;
    state.revoke_live(&token_hash);
    Ok(())
}
