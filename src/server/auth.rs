//! Session tokens: random, handed to the client once, stored only as SHA-256, so a stolen
//! database reveals no token. Passwords and PINs are in `hashing.rs`.

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
