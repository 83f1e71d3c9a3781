//! Who is online, and which conversations each connection follows: each connection that
//! finished its hello subscribes here for its user's own events and follows the conversations
//! its user is a member of. A conversation's event is one frame, handed as the same bytes to
//! every connection following it (fan-out from memory). Publishing never waits: every
//! subscriber has a bounded queue, and one that is full is dropped (its connection closes and
//! the client resumes from its positions), so a slow reader never holds up the writer or
//! anyone else.

use crate::protocol::{ConversationId, Position, Seq, UserId};
use crate::store::events::{Membership, Place};
use crate::store::writer::Delivery;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Inner {
    subscribers: HashMap<u64, Subscriber>,
    by_user: HashMap<UserId, Vec<u64>>,
    by_conversation: HashMap<ConversationId, Vec<u64>>,
}

struct Subscriber {
    user_id: UserId,
    queue: mpsc::Sender<Live>,
    following: HashSet<ConversationId>,
}

/// What reaches a connection live: a durable event (deduplicated by seq or position against
/// the replay), word that a stream has grown (events committed by another node, which the
/// connection reads from the store), or an ephemeral frame (typing), which is sent as is and
/// never replayed.
#[derive(Debug, Clone)]
pub enum Live {
    Event(LiveEvent),
    Wake(Wake),
    Ephemeral(Utf8Bytes),
}

/// A committed event as connections send it: its frame is one buffer, shared (not copied)
/// by every connection it goes to.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    pub place: Place,
    pub frame: Utf8Bytes,
    pub membership: Option<Membership>,
}

impl From<&Delivery> for LiveEvent {
    fn from(delivery: &Delivery) -> LiveEvent {
        LiveEvent {
            place: delivery.place,
            frame: Utf8Bytes::from(delivery.frame.as_ref()),
            membership: delivery.membership,
        }
    }
}

/// Which stream has grown, and to where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    User(Seq),
    Conversation(ConversationId, Position),
    /// Any stream may have: notices from other nodes may have been lost.
    Everything,
}

/// Live events for one connection; unsubscribes when dropped.
pub struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    pub events: mpsc::Receiver<Live>,
}

impl Hub {
    pub fn subscribe(self: &Arc<Self>, user_id: UserId, capacity: usize) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, events) = mpsc::channel(capacity);
        let mut inner = self.lock();
        inner.subscribers.insert(
            id,
            Subscriber {
                user_id,
                queue,
                following: HashSet::new(),
            },
        );
        inner.by_user.entry(user_id).or_default().push(id);
        Subscription {
            hub: Arc::clone(self),
            id,
            events,
        }
    }

    /// Hands each delivery to the connections of its user, or following its conversation,
    /// dropping any whose queue is full.
    pub fn publish(&self, deliveries: &[Delivery]) {
        let mut inner = self.lock();
        for delivery in deliveries {
            let item = Live::Event(LiveEvent::from(delivery));
            match delivery.place {
                Place::User(user_id, _) => self.offer_user(&mut inner, user_id, &item),
                Place::Conversation(id, _) => self.offer_conversation(&mut inner, id, &item),
            }
        }
    }

    /// Tells each of `user`'s connections that the stream has events up to `seq`.
    pub fn wake_user(&self, user_id: UserId, seq: Seq) {
        let mut inner = self.lock();
        self.offer_user(&mut inner, user_id, &Live::Wake(Wake::User(seq)));
    }

    /// Tells each connection following `conversation_id` that its log reaches `pos`.
    pub fn wake_conversation(&self, conversation_id: ConversationId, pos: Position) {
        let mut inner = self.lock();
        let item = Live::Wake(Wake::Conversation(conversation_id, pos));
        self.offer_conversation(&mut inner, conversation_id, &item);
    }

    /// Tells every connection to look for events it has not seen (after notices from other
    /// nodes may have been lost).
    pub fn wake_everyone(&self) {
        let mut inner = self.lock();
        let everyone: Vec<u64> = inner.subscribers.keys().copied().collect();
        self.offer(&mut inner, &everyone, &Live::Wake(Wake::Everything));
    }

    /// Hands a typing frame to the connections following `conversation_id`, except those of
    /// the user who is typing.
    pub fn publish_typing(&self, conversation_id: ConversationId, typist: UserId, frame: Arc<str>) {
        let mut inner = self.lock();
        let Some(ids) = inner.by_conversation.get(&conversation_id) else {
            return;
        };
        let others: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| {
                inner
                    .subscribers
                    .get(id)
                    .is_some_and(|s| s.user_id != typist)
            })
            .collect();
        let frame = Utf8Bytes::from(frame.as_ref());
        self.offer(&mut inner, &others, &Live::Ephemeral(frame));
    }

    /// Connections dropped since start because their queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether `user_id` has a connection here.
    pub fn is_online(&self, user_id: UserId) -> bool {
        self.lock().by_user.contains_key(&user_id)
    }

    /// Whether a connection here follows `conversation_id`.
    pub fn is_followed(&self, conversation_id: ConversationId) -> bool {
        self.lock().by_conversation.contains_key(&conversation_id)
    }

    /// Connections currently subscribed; for tests and the log.
    pub fn online_connections(&self) -> usize {
        self.lock().subscribers.len()
    }

    fn offer_user(&self, inner: &mut Inner, user_id: UserId, item: &Live) {
        let gone = match inner.by_user.get(&user_id) {
            Some(ids) => self.queue_each(&inner.subscribers, ids, item),
            None => return,
        };
        inner.remove_all(gone);
    }

    fn offer_conversation(&self, inner: &mut Inner, id: ConversationId, item: &Live) {
        let gone = match inner.by_conversation.get(&id) {
            Some(ids) => self.queue_each(&inner.subscribers, ids, item),
            None => return,
        };
        inner.remove_all(gone);
    }

    /// Queues `item` for each of `ids`; drops each whose queue is full or whose connection
    /// is gone.
    fn offer(&self, inner: &mut Inner, ids: &[u64], item: &Live) {
        let gone = self.queue_each(&inner.subscribers, ids, item);
        inner.remove_all(gone);
    }

    /// Queues `item` for each of `ids`; returns those whose queue is full (counted as
    /// dropped) or whose connection is gone.
    fn queue_each(
        &self,
        subscribers: &HashMap<u64, Subscriber>,
        ids: &[u64],
        item: &Live,
    ) -> Vec<u64> {
        let mut gone = Vec::new();
        for id in ids {
            let Some(subscriber) = subscribers.get(id) else {
                continue;
            };
            match subscriber.queue.try_send(item.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(user = %subscriber.user_id, "subscriber fell behind; dropping it");
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    gone.push(*id);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => gone.push(*id),
            }
        }
        gone
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The maps stay consistent even if a holder panicked: every change is one call.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    fn remove_all(&mut self, ids: Vec<u64>) {
        for id in ids {
            self.remove(id);
        }
    }

    /// Forgets subscriber `id` everywhere; dropping its queue's sender ends its stream once
    /// what is queued has been read.
    fn remove(&mut self, id: u64) {
        let Some(subscriber) = self.subscribers.remove(&id) else {
            return;
        };
        remove_from(&mut self.by_user, subscriber.user_id, id);
        for conversation_id in subscriber.following {
            remove_from(&mut self.by_conversation, conversation_id, id);
        }
    }
}

fn remove_from<K: std::hash::Hash + Eq>(lists: &mut HashMap<K, Vec<u64>>, key: K, id: u64) {
    if let Some(list) = lists.get_mut(&key) {
        list.retain(|&other| other != id);
        if list.is_empty() {
            lists.remove(&key);
        }
    }
}

impl Subscription {
    /// From now on, hands this connection `conversation_id`'s events. A connection dropped
    /// for falling behind follows nothing.
    pub fn follow(&self, conversation_id: ConversationId) {
        let mut inner = self.hub.lock();
        let Some(subscriber) = inner.subscribers.get_mut(&self.id) else {
            return;
        };
        if subscriber.following.insert(conversation_id) {
            inner
                .by_conversation
                .entry(conversation_id)
                .or_default()
                .push(self.id);
        }
    }

    /// Stops handing this connection `conversation_id`'s events.
    pub fn unfollow(&self, conversation_id: ConversationId) {
        let mut inner = self.hub.lock();
        let Some(subscriber) = inner.subscribers.get_mut(&self.id) else {
            return;
        };
        if subscriber.following.remove(&conversation_id) {
            remove_from(&mut inner.by_conversation, conversation_id, self.id);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.lock().remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Event;

    fn read_mark(conversation: i64) -> Event {
        Event::Read {
            conversation_id: ConversationId(conversation),
            user: crate::protocol::User::new(UserId(9), "zed".to_owned()),
            up_to: crate::protocol::MessageId(1),
        }
    }

    fn to_user(user: i64, seq: i64) -> Delivery {
        let place = Place::User(UserId(user), Seq(seq));
        Delivery::encode(place, &read_mark(1)).unwrap()
    }

    fn in_conversation(conversation: i64, pos: i64) -> Delivery {
        let place = Place::Conversation(ConversationId(conversation), Position(pos));
        Delivery::encode(place, &read_mark(conversation)).unwrap()
    }

    fn place_of(live: Live) -> Option<Place> {
        match live {
            Live::Event(delivery) => Some(delivery.place),
            Live::Wake(_) | Live::Ephemeral(_) => None,
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_dropped_and_others_are_not_held_up() {
        let hub = Arc::new(Hub::default());
        let mut slow = hub.subscribe(UserId(1), 2);
        let mut other = hub.subscribe(UserId(2), 8);
        slow.follow(ConversationId(5));
        let burst: Vec<_> = (1..=3).map(|seq| to_user(1, seq)).collect();
        hub.publish(&burst);
        hub.publish(&[to_user(2, 1)]);

        let first = slow.events.recv().await.and_then(place_of);
        assert_eq!(first, Some(Place::User(UserId(1), Seq(1))));
        let second = slow.events.recv().await.and_then(place_of);
        assert_eq!(second, Some(Place::User(UserId(1), Seq(2))));
        assert!(
            slow.events.recv().await.is_none(),
            "dropped after its queue filled"
        );
        assert!(!hub.is_followed(ConversationId(5)), "forgotten everywhere");
        let others = other.events.recv().await.and_then(place_of);
        assert_eq!(others, Some(Place::User(UserId(2), Seq(1))));
        assert_eq!(hub.online_connections(), 1);
        assert_eq!(hub.dropped(), 1);
        drop(other);
        assert_eq!(hub.online_connections(), 0);
    }

    #[tokio::test]
    async fn a_conversations_frame_reaches_its_followers_as_the_same_bytes() {
        let hub = Arc::new(Hub::default());
        let mut alice = hub.subscribe(UserId(1), 8);
        let mut bob = hub.subscribe(UserId(2), 8);
        let mut carol = hub.subscribe(UserId(3), 8);
        alice.follow(ConversationId(7));
        bob.follow(ConversationId(7));
        carol.follow(ConversationId(7));
        carol.unfollow(ConversationId(7));
        hub.publish(&[in_conversation(7, 1)]);
        hub.publish(&[to_user(3, 1)]);

        let (Some(Live::Event(a)), Some(Live::Event(b))) =
            (alice.events.recv().await, bob.events.recv().await)
        else {
            panic!("both followers get the event");
        };
        assert_eq!(
            a.frame.as_ptr(),
            b.frame.as_ptr(),
            "one buffer for all followers"
        );
        let carols = carol.events.recv().await.and_then(place_of);
        assert_eq!(
            carols,
            Some(Place::User(UserId(3), Seq(1))),
            "an unfollowed conversation's event does not reach carol"
        );
        hub.publish_typing(ConversationId(7), UserId(1), "typing".into());
        assert!(matches!(bob.events.recv().await, Some(Live::Ephemeral(_))));
        assert!(alice.events.try_recv().is_err(), "the typist hears nothing");
    }
}
