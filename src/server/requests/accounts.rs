//! register, login, logout.

use crate::protocol::{ApiError, ErrorCode, results};
use crate::server::{ServerState, auth};
use crate::store::accounts;

pub async fn register(
    state: &ServerState,
    username: String,
    password: String,
) -> Result<results::Auth, ApiError> {
    accounts::validate_username(&username)?;
    accounts::validate_password(&password)?;
    let hash = auth::hashing(&state.hashing, move || auth::hash_password(&password))
        .await?
        .map_err(|e| {
            tracing::error!(error = %e);
            ApiError::internal()
        })?;
    let token = auth::new_token();
    let token_hash = auth::token_hash(&token);
    let user = state
        .writer
        .write(move |ctx| {
            let user = accounts::create_user(ctx, &username, &hash)?;
            accounts::insert_token(ctx, &token_hash, user.id)?;
            Ok(user)
        })
        .await?;
    tracing::info!(user = %user.username, "registered");
    Ok(results::Auth { user, token })
}

pub async fn login(
    state: &ServerState,
    username: String,
    password: String,
) -> Result<results::Auth, ApiError> {
    let lookup = username.clone();
    let found = state
        .store
        .read(move |conn| accounts::credentials(conn, &lookup))
        .await?;
    let verified = auth::hashing(&state.hashing, move || match found {
        Some((user, hash)) => auth::verify_password(&password, &hash).then_some(user),
        None => {
            auth::verify_against_nothing(&password);
            None
        }
    })
    .await?;
    let user = verified.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidCredentials,
            format!("wrong username or password for {username:?}"),
        )
    })?;
    let token = auth::new_token();
    let token_hash = auth::token_hash(&token);
    let user_id = user.id;
    state
        .writer
        .write(move |ctx| accounts::insert_token(ctx, &token_hash, user_id))
        .await?;
    tracing::info!(user = %user.username, "logged in");
    Ok(results::Auth { user, token })
}

pub async fn logout(
    state: &ServerState,
    token_hash: Option<&str>,
) -> Result<results::Empty, ApiError> {
    if let Some(hash) = token_hash.map(str::to_owned) {
        state
            .writer
            .write(move |ctx| accounts::delete_token(ctx, &hash))
            .await?;
    }
    Ok(results::Empty {})
}
