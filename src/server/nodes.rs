//! Several server nodes on one PostgreSQL database: each node hears, through the database,
//! which users' streams another node has grown and who is typing, and hands that to its own
//! connections (`store::postgres::notify` says how). On SQLite there is one node and nothing
//! to hear.

use super::hub::Hub;
use crate::protocol::{Event, Seq, UserId};
use crate::store::Store;
use crate::store::postgres::notify::{self, Heard, NodeId};
use crate::store::writer::Delivery;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

/// Typing notices waiting to be relayed; more are dropped (typing is best effort).
const TYPING_QUEUE: usize = 256;

/// This node's links to the others; stops listening when dropped.
pub struct Nodes {
    typing: Option<mpsc::SyncSender<(Vec<UserId>, Arc<str>)>>,
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
            .spawn(move || send_typing(&typing_config, node, &queue))?;
        Ok(Nodes {
            typing: Some(typing),
            stop,
        })
    }

    /// Relays a typing frame to `users`' connections on the other nodes.
    pub fn typing(&self, users: &[UserId], frame: Arc<str>) {
        if let Some(typing) = &self.typing
            && typing.try_send((users.to_vec(), frame)).is_err()
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
        Heard::Events(announced) => hand_over(store, hub, &announced),
        Heard::Typing(users, frame) => hub.publish_ephemeral(&users, frame),
        Heard::Listening => hub.wake_everyone(),
    }
}

/// Reads the announced events of the users online here, all in one query, and publishes them
/// as if they had been committed here. If the read fails, the users' connections are woken
/// to read for themselves.
fn hand_over(store: &Store, hub: &Hub, announced: &[(UserId, Seq, Seq)]) {
    let online: Vec<(UserId, Seq, Seq)> = announced
        .iter()
        .copied()
        .filter(|(user_id, ..)| hub.is_online(*user_id))
        .collect();
    if online.is_empty() {
        return;
    }
    match store.read_blocking(|db| db.events_between(&online)) {
        Ok(events) => hub.publish(&deliveries(events)),
        Err(error) => {
            tracing::warn!(%error.message, "cannot read another node's events; waking readers");
            for (user_id, _, last) in online {
                hub.wake(user_id, last);
            }
        }
    }
}

/// Events as the hub takes them, each serialized once per run of equal events (a group
/// message, announced for every member, once).
fn deliveries(events: Vec<(UserId, Seq, Event)>) -> Vec<Delivery> {
    let mut serialized: Option<(Event, Arc<str>)> = None;
    events
        .into_iter()
        .filter_map(|(user_id, seq, event)| {
            let body = match &serialized {
                Some((last, body)) if *last == event => Arc::clone(body),
                _ => {
                    let body: Arc<str> = serde_json::to_string(&event).ok()?.into();
                    serialized = Some((event, Arc::clone(&body)));
                    body
                }
            };
            Some(Delivery {
                user_id,
                seq,
                event: body,
            })
        })
        .collect()
}

/// Sends queued typing notices on a connection of its own, connecting again when it breaks.
fn send_typing(
    config: &postgres::Config,
    node: NodeId,
    queue: &mpsc::Receiver<(Vec<UserId>, Arc<str>)>,
) {
    let mut client: Option<postgres::Client> = None;
    for (users, frame) in queue {
        if client.as_ref().is_none_or(postgres::Client::is_closed) {
            client = config
                .connect(postgres::NoTls)
                .inspect_err(|error| tracing::warn!(%error, "cannot relay typing"))
                .ok();
        }
        if let Some(connected) = client.as_mut()
            && let Err(error) = notify::announce_typing(connected, node, &users, &frame)
        {
            tracing::warn!(%error, "cannot relay typing");
        }
    }
}
