//! Who is online: each connection that finished its hello subscribes here for its user's live
//! events. Publishing never waits: every subscriber has a bounded queue, and one that is full
//! is dropped (its connection closes and the client resumes from its last seq), so a slow
//! reader never holds up the writer or anyone else.

use crate::protocol::{Seq, UserId};
use crate::store::writer::Delivery;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

#[derive(Default)]
pub struct Hub {
    subscribers: Mutex<HashMap<UserId, Vec<Subscriber>>>,
    next_id: AtomicU64,
    dropped: AtomicU64,
}

struct Subscriber {
    id: u64,
    queue: mpsc::Sender<Live>,
}

/// What reaches a connection live: a durable event (deduplicated by seq against the replay),
/// word that the user's stream has grown to a seq (events committed by another node, which
/// the connection reads from the store), or an ephemeral frame (typing), which is sent as is
/// and never replayed.
#[derive(Debug, Clone)]
pub enum Live {
    Event(Delivery),
    Wake(Seq),
    Ephemeral(Arc<str>),
}

/// Live events for one connection; unsubscribes when dropped.
pub struct Subscription {
    hub: Arc<Hub>,
    user_id: UserId,
    id: u64,
    pub events: mpsc::Receiver<Live>,
}

impl Hub {
    pub fn subscribe(self: &Arc<Self>, user_id: UserId, capacity: usize) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, events) = mpsc::channel(capacity);
        self.lock()
            .entry(user_id)
            .or_default()
            .push(Subscriber { id, queue });
        Subscription {
            hub: Arc::clone(self),
            user_id,
            id,
            events,
        }
    }

    /// Hands each delivery to its user's connections, dropping any whose queue is full.
    pub fn publish(&self, deliveries: &[Delivery]) {
        let mut subscribers = self.lock();
        for delivery in deliveries {
            self.offer(
                &mut subscribers,
                delivery.user_id,
                Live::Event(delivery.clone()),
            );
        }
    }

    /// Tells each of `user`'s connections that the stream has events up to `seq`.
    pub fn wake(&self, user_id: UserId, seq: Seq) {
        let mut subscribers = self.lock();
        self.offer(&mut subscribers, user_id, Live::Wake(seq));
    }

    /// Tells every connection to look for events it has not seen (after notices from other
    /// nodes may have been lost).
    pub fn wake_everyone(&self) {
        let mut subscribers = self.lock();
        let users: Vec<UserId> = subscribers.keys().copied().collect();
        for user_id in users {
            self.offer(&mut subscribers, user_id, Live::Wake(Seq(i64::MAX)));
        }
    }

    /// Hands an ephemeral frame to each of `users`' connections.
    pub fn publish_ephemeral(&self, users: &[UserId], frame: Arc<str>) {
        let mut subscribers = self.lock();
        for &user_id in users {
            self.offer(
                &mut subscribers,
                user_id,
                Live::Ephemeral(Arc::clone(&frame)),
            );
        }
    }

    /// Connections dropped since start because their queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn offer(
        &self,
        subscribers: &mut HashMap<UserId, Vec<Subscriber>>,
        user_id: UserId,
        item: Live,
    ) {
        let Some(list) = subscribers.get_mut(&user_id) else {
            return;
        };
        list.retain(|subscriber| match subscriber.queue.try_send(item.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(user = %user_id, "subscriber fell behind; dropping it");
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    /// Whether `user_id` has a connection here.
    pub fn is_online(&self, user_id: UserId) -> bool {
        self.lock().contains_key(&user_id)
    }

    /// Connections currently subscribed; for tests and the log.
    pub fn online_connections(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, Vec<Subscriber>>> {
        // The map stays consistent even if a holder panicked: every change is one call.
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subscribers = self.hub.lock();
        if let Some(list) = subscribers.get_mut(&self.user_id) {
            list.retain(|s| s.id != self.id);
            if list.is_empty() {
                subscribers.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(user: i64, seq: i64) -> Delivery {
        Delivery {
            user_id: UserId(user),
            seq: Seq(seq),
            event: format!("event {seq}").into(),
        }
    }

    fn seq_of(live: Live) -> Option<Seq> {
        match live {
            Live::Event(delivery) => Some(delivery.seq),
            Live::Wake(_) | Live::Ephemeral(_) => None,
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_dropped_and_others_are_not_held_up() {
        let hub = Arc::new(Hub::default());
        let mut slow = hub.subscribe(UserId(1), 2);
        let mut other = hub.subscribe(UserId(2), 8);
        let burst: Vec<_> = (1..=3).map(|seq| delivery(1, seq)).collect();
        hub.publish(&burst);
        hub.publish(&[delivery(2, 1)]);

        assert_eq!(slow.events.recv().await.and_then(seq_of), Some(Seq(1)));
        assert_eq!(slow.events.recv().await.and_then(seq_of), Some(Seq(2)));
        assert!(
            slow.events.recv().await.is_none(),
            "dropped after its queue filled"
        );
        assert_eq!(other.events.recv().await.and_then(seq_of), Some(Seq(1)));
        assert_eq!(hub.online_connections(), 1);
        assert_eq!(hub.dropped(), 1);
        drop(other);
        assert_eq!(hub.online_connections(), 0);
    }
}
