//! One small idea, as in mini-redis: every task holds a `Shutdown` and stops when it fires.

use tokio::sync::watch;

/// Fires once for everyone holding a [`Shutdown`].
pub struct ShutdownTrigger(watch::Sender<bool>);

/// A task's view of the shutdown signal. Cloning gives another listener.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Completes once shutdown has fired (or the trigger is gone, which means the same).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|fired| *fired).await;
    }
}
