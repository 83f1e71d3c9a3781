//! Ending live sessions when their token is revoked. Every connection opened with a token
//! watches it here; revoking closes them all. Revocations come from this server's own logout
//! and `revoke_session` (at once) and from anything else that deletes a token in the database,
//! such as `quid admin revoke` or another server process: the store keeps a log of revoked
//! token hashes, which [`follow`] reads every [`POLL_INTERVAL`].

use super::ServerState;
use super::shutdown::Shutdown;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How often the revocation log is read; a revocation by another process takes effect within it.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Token hashes with live connections, each with a flag its connections watch.
#[derive(Default)]
pub struct LiveTokens {
    by_hash: Mutex<HashMap<String, watch::Sender<bool>>>,
}

/// One connection's watch on its token; ends the watch when dropped.
pub struct Watch {
    tokens: Arc<LiveTokens>,
    token_hash: String,
    revoked: Option<watch::Receiver<bool>>,
}

impl LiveTokens {
    pub fn watch(self: &Arc<Self>, token_hash: &str) -> Watch {
        let revoked = self
            .lock()
            .entry(token_hash.to_owned())
            .or_insert_with(|| watch::channel(false).0)
            .subscribe();
        Watch {
            tokens: Arc::clone(self),
            token_hash: token_hash.to_owned(),
            revoked: Some(revoked),
        }
    }

    /// Tells every connection of `token_hash` to close. Returns how many were told.
    pub fn revoke(&self, token_hash: &str) -> usize {
        match self.lock().remove(token_hash) {
            Some(flag) => {
                flag.send_replace(true);
                flag.receiver_count()
            }
            None => 0,
        }
    }

    /// Token hashes being watched; for tests.
    pub fn watched(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        // Every change is one insert or remove: the map is whole even after a panic.
        self.by_hash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Watch {
    /// Completes once the token is revoked (never, if the registry is gone first).
    pub async fn revoked(&mut self) {
        let Some(revoked) = self.revoked.as_mut() else {
            return std::future::pending().await;
        };
        if revoked.wait_for(|&revoked| revoked).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        drop(self.revoked.take());
        let mut by_hash = self.tokens.lock();
        if by_hash
            .get(&self.token_hash)
            .is_some_and(|flag| flag.receiver_count() == 0)
        {
            by_hash.remove(&self.token_hash);
        }
    }
}

/// Reads the store's revocation log from its current end on, closing the live connections of
/// each token revoked, until shutdown.
pub async fn follow(state: Arc<ServerState>, mut shutdown: Shutdown) {
    let mut after = match state.store.read(|conn| conn.last_revocation()).await {
        Ok(last) => last,
        Err(_) => {
            tracing::error!(
                "cannot read the revocation log; revocations by other processes will not close live connections"
            );
            return;
        }
    };
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        let from = after;
        let Ok(revoked) = state
            .store
            .read(move |conn| conn.revocations_after(from))
            .await
        else {
            continue; // Logged by the store; try again next tick.
        };
        for (id, token_hash) in revoked {
            after = id;
            state.revoke_live(&token_hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn revoking_wakes_every_watch_of_that_token_only() {
        let tokens = Arc::new(LiveTokens::default());
        let mut first = tokens.watch("a");
        let mut second = tokens.watch("a");
        let other = tokens.watch("b");
        assert_eq!(tokens.watched(), 2);
        assert_eq!(tokens.revoke("a"), 2);
        first.revoked().await;
        second.revoked().await;
        drop((first, second));
        assert_eq!(tokens.watched(), 1);
        drop(other);
        assert_eq!(tokens.watched(), 0, "a watch cleans up after itself");
    }
}
