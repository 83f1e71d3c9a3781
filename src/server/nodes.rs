//! Several server nodes on one PostgreSQL database: each node hears, through the database,
//! which users' streams another node has grown and who is typing, and hands that to its own
//! connections (`store::postgres::notify` says how). On SQLite there is one node and nothing
//! to hear.

use super::hub::Hub;
use crate::protocol::{ConversationId, Position, Seq, UserId};
use crate::store::Store;
use crate::store::events::Place;
use crate::store::postgres::notify::{self, Announced, Heard};
use crate::store::writer::Delivery;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

/// Typing notices waiting to be relayed; more are dropped (typing is best effort).
const TYPING_QUEUE: usize = 256;

/// Where someone is typing: the conversation and the typist.
type Typist = (ConversationId, UserId);

/// This node's links to the others; stops listening when dropped.
pub struct Nodes {
    typing: Option<mpsc::SyncSender<(Typist, Arc<str>)>>,
    stop: Arc<AtomicBool>,
}

impl Nodes {
    /// Starts listening to the other nodes when the store is on PostgreSQL.
    pub fn start(store: &Arc<Store>, hub: &Arc<Hub>) -> std::io::Result<Nodes> {
        let stop = Arc::new(AtomicBool::new(false));
        let Some((config, node)) = store.postgres_node() else {
            return Ok(Nodes { typing: None, stop });
        };
        let listen_config = config.clone();
        let (store_read, listening_hub, until) = (Arc::clone(store), Arc::clone(hub), stop.clone());
        std::thread::Builder::new()
            .name("quid-nodes-listen".into())
            .spawn(move || {
                notify::listen(&listen_config, node, &until, |heard| {
                    relay(&store_read, &listening_hub, heard);
                });
            })?;
        let (typing, queue) = mpsc::sync_channel(TYPING_QUEUE);
        let typing_config = config.clone();
        std::thread::Builder::new()
            .name("quid-nodes-typing".into())
            .spawn(move || notify::relay_typing(&typing_config, node, &queue))?;
        Ok(Nodes {
            typing: Some(typing),
            stop,
        })
    }

    /// Relays a typing frame to `users`' connections on the other nodes.
    /// Relays a typing frame in `conversation_id` by `typist` to the other nodes.
    pub fn typing(&self, conversation_id: ConversationId, typist: UserId, frame: Arc<str>) {
        if let Some(typing) = &self.typing
            && typing.try_send(((conversation_id, typist), frame)).is_err()
        {
            tracing::debug!("typing relay busy; a notice was dropped");
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        // The typing thread ends when its queue's sender is dropped, with this.
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn relay(store: &Store, hub: &Hub, heard: Heard) {
    match heard {
        Heard::Events(announced) => hand_over(store, hub, announced),
        Heard::Typing(conversation_id, typist, frame) => {
            hub.publish_typing(conversation_id, typist, frame);
        }
        Heard::Listening => hub.wake_everyone(),
    }
}

/// Reads what another node committed, once for every connection here that wants it, and
/// publishes it; on a failed read, wakes those connections to read it themselves.
fn hand_over(store: &Store, hub: &Hub, announced: Announced) {
    let users: Vec<(UserId, Seq, Seq)> = announced
        .users
        .into_iter()
        .filter(|(user_id, ..)| hub.is_online(*user_id))
        .collect();
    let conversations: Vec<(ConversationId, Position, Position)> = announced
        .conversations
        .into_iter()
        .filter(|(id, ..)| hub.is_followed(*id))
        .collect();
    if users.is_empty() && conversations.is_empty() {
        return;
    }
    let read = store.read_blocking(|db| {
        Ok((
            db.events_between(&users)?,
            db.conversation_events_between(&conversations)?,
        ))
    });
    match read {
        Ok((user_events, conversation_events)) => {
            let to_users = user_events
                .into_iter()
                .map(|(user, seq, event)| (Place::User(user, seq), event));
            let to_conversations = conversation_events
                .into_iter()
                .map(|(id, pos, event)| (Place::Conversation(id, pos), event));
            let deliveries: Vec<Delivery> = to_users
                .chain(to_conversations)
                .filter_map(|(place, event)| Delivery::encode(place, &event))
                .collect();
            hub.publish(&deliveries);
        }
        Err(error) => {
            tracing::warn!(%error.message, "cannot read another node's events; waking readers");
            for (user_id, _, last) in users {
                hub.wake_user(user_id, last);
            }
            for (id, _, last) in conversations {
                hub.wake_conversation(id, last);
            }
        }
    }
}
