//! What the writer does once a batch has committed: answer its callers and publish its events,
//! at once where the commit made the batch durable, else after a sync of the log on a thread
//! of its own (`Durability::AfterSync`), one sync for every batch waiting, in commit order.

use super::{Completion, Delivery, Publish};
use crate::protocol::ApiError;
use std::sync::Arc;

/// What a batch came to: whether it committed, the events it emitted, and its callers.
pub(super) struct Outcome {
    pub(super) committed: Result<(), ApiError>,
    pub(super) deliveries: Vec<Delivery>,
    pub(super) completions: Vec<Completion>,
}

impl Outcome {
    /// Publishes the batch's events, if it committed, and answers its callers.
    pub(super) fn tell(self, publish: &Publish) {
        if self.committed.is_ok() {
            publish(&self.deliveries);
        }
        for completion in self.completions {
            completion(self.committed.clone());
        }
    }
}

/// The thread that makes committed batches durable (one sync for every batch waiting) and
/// then tells their callers, in commit order.
pub(super) struct Syncer {
    handoff: std::sync::mpsc::SyncSender<Outcome>,
    thread: std::thread::JoinHandle<()>,
    flush: Flush,
}

/// Committed batches waiting for their sync; when full, the writer waits for the disk.
const SYNC_QUEUE: usize = 4;

/// Flushes what every commit before it wrote to the disk.
pub type Flush = Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>;

impl Syncer {
    /// `None` if the thread cannot start: the writer then syncs each batch itself.
    pub(super) fn start(sync: Flush, publish: Publish) -> Option<Syncer> {
        let (handoff, waiting) = std::sync::mpsc::sync_channel::<Outcome>(SYNC_QUEUE);
        let flush = Arc::clone(&sync);
        let thread = std::thread::Builder::new()
            .name("quid-store-sync".into())
            .spawn(move || {
                while let Ok(first) = waiting.recv() {
                    let mut outcomes = vec![first];
                    outcomes.extend(waiting.try_iter());
                    sync_then_tell(sync.as_ref(), outcomes, &publish);
                }
            });
        match thread {
            Ok(thread) => Some(Syncer {
                handoff,
                thread,
                flush,
            }),
            Err(error) => {
                tracing::error!(%error, "cannot start the sync thread");
                None
            }
        }
    }

    pub(super) fn hand(&self, outcome: Outcome, publish: &Publish) {
        // The thread is gone only if it panicked: this thread syncs then.
        if let Err(std::sync::mpsc::SendError(outcome)) = self.handoff.send(outcome) {
            sync_then_tell(self.flush.as_ref(), vec![outcome], publish);
        }
    }

    /// Waits for the last batches' sync and answers.
    pub(super) fn finish(self) {
        drop(self.handoff);
        if self.thread.join().is_err() {
            tracing::error!("the sync thread panicked");
        }
    }
}

/// One sync for `outcomes`, committed in this order, then their events and answers: a
/// batch whose sync failed is answered `internal` and its events are not published.
pub(super) fn sync_then_tell(
    sync: &(dyn Fn() -> std::io::Result<()> + Send + Sync),
    outcomes: Vec<Outcome>,
    publish: &Publish,
) {
    let synced = sync();
    if let Err(error) = &synced {
        tracing::error!(%error, "committed batches could not be synced");
    }
    for mut outcome in outcomes {
        if synced.is_err() {
            outcome.committed = Err(ApiError::internal());
        }
        outcome.tell(publish);
    }
}
