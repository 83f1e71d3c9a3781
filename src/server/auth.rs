//! Session tokens: random, handed to the client once, stored only as SHA-256, so a stolen
//! database reveals no token; and who a request's bearer token says its sender is (the
//! websocket's upgrade, file uploads and downloads). Passwords and PINs are in `hashing.rs`.

use super::ServerState;
use crate::protocol::{ErrorCode, TimestampMs, User};
use hyper::StatusCode;
use sha2::{Digest, Sha256};

/// Bytes of randomness in a session token.
const TOKEN_BYTES: usize = 32;

/// A new random token, as the client will send it.
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Who a request's Authorization header says its sender is.
pub struct Identity {
    pub user: Option<User>,
    pub token_hash: Option<String>,
}

/// Why a request is refused: an HTTP status and a sentence for the client to show.
pub type Refusal = (StatusCode, String);

/// Who the Authorization header (`Bearer TOKEN`) says the client is; anonymous without one.
pub async fn authenticate(
    authorization: Option<&str>,
    state: &ServerState,
) -> Result<Identity, Refusal> {
    let Some(header) = authorization else {
        // Anonymous: may only register and log in.
        return Ok(Identity {
            user: None,
            token_hash: None,
        });
    };
    let token = header.strip_prefix("Bearer ").ok_or_else(|| {
        (
            StatusCode::UNAUTHORIZED,
            "Authorization must be \"Bearer TOKEN\"".to_owned(),
        )
    })?;
    let hash = token_hash(token.trim());
    let lookup = hash.clone();
    let user = state
        .store
        .read(move |db| db.user_for_token(&lookup))
        .await
        .map_err(|error| match error.code {
            ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, error.message),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "store failure".to_owned(),
            ),
        })?
        .ok_or_else(|| {
            (
                StatusCode::UNAUTHORIZED,
                "invalid or revoked token; log in again".to_owned(),
            )
        })?;
    let (user, last_used) = user;
    let idle = state.config.session_idle;
    let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
    if TimestampMs::now().0.saturating_sub(last_used.0) > idle_ms {
        return Err((
            StatusCode::UNAUTHORIZED,
            format!(
                "this session expired after {} days without use; log in again",
                idle.as_secs() / 86_400
            ),
        ));
    }
    Ok(Identity {
        user: Some(user),
        token_hash: Some(hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 * TOKEN_BYTES);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
