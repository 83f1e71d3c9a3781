//! Passwords and PINs, hashed with argon2id. Hashing is slow and memory-hard on purpose, so
//! it is rationed: at most [`SLOTS`] run at once, each on a blocking thread, each in a block of
//! memory that belongs to its slot and is reused. Allocating ~19 MiB afresh per check let the
//! allocator keep the fragments (a login flood once held 1.5 GB); with fixed slots the whole
//! of hashing holds `SLOTS` x 19 MiB, however many requests queue.

use crate::protocol::ApiError;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Mutex, OnceLock};
use tokio::sync::Semaphore;

/// Hashes computed at once, at most. Each takes a core for tens of milliseconds.
pub const SLOTS: usize = 4;

/// Bytes of random salt per hash.
const SALT_BYTES: usize = 16;

/// The hashing slots of a server: a semaphore, and one memory block per slot.
pub struct Hasher {
    slots: Semaphore,
    memories: Mutex<Vec<Vec<Block>>>,
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher {
            slots: Semaphore::new(SLOTS),
            memories: Mutex::new(Vec::new()),
        }
    }
}

impl Hasher {
    /// A PHC string for `secret` with a fresh random salt.
    pub async fn hash(&self, secret: String) -> Result<String, ApiError> {
        self.run(move |memory| hash_with(memory, &secret))
            .await?
            .map_err(|error| {
                tracing::error!(%error, "cannot hash");
                ApiError::internal()
            })
    }

    /// Whether `secret` matches `stored`. Without a stored hash (an unknown user) it spends the
    /// same time all the same, so timing does not tell "no such user" from "wrong password".
    pub async fn verify(&self, secret: String, stored: Option<String>) -> Result<bool, ApiError> {
        self.run(move |memory| match stored {
            Some(stored) => verify_with(memory, &secret, &stored),
            None => {
                if let Some(dummy) = dummy_hash(memory) {
                    verify_with(memory, &secret, dummy);
                }
                false
            }
        })
        .await
    }

    /// Runs `work` on a blocking thread with a slot's memory, once a slot is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| ApiError::internal())?;
        // A slot's memory is missing only after a panic lost it; the next use makes another.
        let mut memory = self.lock_memories().pop().unwrap_or_default();
        let (result, memory) = tokio::task::spawn_blocking(move || {
            let result = work(&mut memory);
            (result, memory)
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "hashing task failed");
            ApiError::internal()
        })?;
        self.lock_memories().push(memory);
        Ok(result)
    }

    fn lock_memories(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        // A list of buffers stays valid whatever a panicking holder was doing.
        self.memories
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `memory` grown (once) to what `params` needs, as a slice of exactly that many blocks.
fn blocks<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::default());
    }
    &mut memory[..needed]
}

/// Hashes `secret` with quid's parameters (argon2's defaults: argon2id, 19 MiB, 2 passes).
pub fn hash_with(memory: &mut Vec<Block>, secret: &str) -> Result<String, String> {
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; SALT_BYTES];
    rand::fill(&mut salt_bytes);
    let salt = Salt::new(&salt_bytes).map_err(|e| e.to_string())?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(secret.as_bytes(), &salt, &mut out, blocks(memory, &params))
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Checks `secret` against a stored PHC string; a malformed stored hash never verifies.
pub fn verify_with(memory: &mut Vec<Block>, secret: &str, stored: &str) -> bool {
    match recompute(memory, secret, stored) {
        Ok(matches) => matches,
        Err(error) => {
            tracing::error!(%error, "stored hash cannot be checked");
            false
        }
    }
}

fn recompute(memory: &mut Vec<Block>, secret: &str, stored: &str) -> Result<bool, String> {
    let phc = PasswordHash::new(stored).map_err(|e| e.to_string())?;
    let algorithm = Algorithm::try_from(phc.algorithm.as_str()).map_err(|e| e.to_string())?;
    let version = match phc.version {
        Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
        None => Version::default(),
    };
    let params = Params::try_from(&phc).map_err(|e| e.to_string())?;
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return Err("the stored hash has no salt or no output".into());
    };
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(secret.as_bytes(), &salt, &mut out, blocks(memory, &params))
        .map_err(|e| e.to_string())?;
    let computed = Output::new(&out).map_err(|e| e.to_string())?;
    // Output compares in constant time.
    Ok(computed == expected)
}

/// A real hash of nothing anyone knows, made once, to spend a verification's time on.
fn dummy_hash(memory: &mut Vec<Block>) -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_with(memory, "not a real password").ok())
        .as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_verify_only_against_their_own_hash() {
        let mut memory = Vec::new();
        let hash = hash_with(&mut memory, "correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_with(&mut memory, "correct horse", &hash));
        assert!(!verify_with(&mut memory, "wrong horse", &hash));
        assert!(!verify_with(&mut memory, "correct horse", "garbage"));
        assert!(!verify_with(&mut memory, "correct horse", "!"));
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_still_verify() {
        use argon2::password_hash::PasswordHasher;
        let stored = Argon2::default()
            .hash_password(b"from before")
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        assert!(verify_with(&mut memory, "from before", &stored));
        assert!(!verify_with(&mut memory, "from after", &stored));
    }

    #[tokio::test]
    async fn slots_reuse_their_memory() {
        let hasher = Hasher::default();
        let hash = hasher.hash("pin 1234".into()).await.unwrap();
        let checks = (0..3 * SLOTS).map(|_| hasher.verify("pin 1234".into(), Some(hash.clone())));
        for verified in futures_util::future::join_all(checks).await {
            assert!(verified.unwrap());
        }
        assert!(!hasher.verify("x".into(), None).await.unwrap());
        let memories = hasher.lock_memories();
        assert!(memories.len() <= SLOTS, "{} buffers", memories.len());
        let one_hash = Params::default().block_count();
        assert!(memories.iter().all(|m| m.len() == one_hash));
    }
}
