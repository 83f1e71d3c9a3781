//! Passwords (argon2id) and session tokens (random, stored as SHA-256). Hashing is slow on
//! purpose, so callers run these on blocking threads, never on the async workers.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

/// Password and PIN hashes computed at once, at most. Each takes ~19 MiB and a core for tens
/// of milliseconds, so a flood of logins waits here instead of exhausting the machine.
pub const MAX_CONCURRENT_HASHES: usize = 4;

/// Runs slow hashing work `f` on a blocking thread, once one of `slots` is free.
pub async fn hashing<T: Send + 'static>(
    slots: &tokio::sync::Semaphore,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::protocol::ApiError> {
    let _slot = slots
        .acquire()
        .await
        .map_err(|_| crate::protocol::ApiError::internal())?;
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "hashing task failed");
        crate::protocol::ApiError::internal()
    })
}

/// Bytes of randomness in a session token.
const TOKEN_BYTES: usize = 32;

/// Hashes a password to a PHC string with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| format!("cannot hash password: {e}"))
}

/// Checks a password against a stored PHC string; a malformed stored hash never verifies.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(error) => {
            tracing::error!(%error, "stored password hash does not parse");
            false
        }
    }
}

/// Spends the same time as a real verification, so a login for an unknown user cannot be
/// told apart from a wrong password by its timing.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(hash) = DUMMY.get_or_init(|| hash_password("not a real password").ok()) {
        verify_password(password, hash);
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "garbage"));
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 * TOKEN_BYTES);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
