//! Several server nodes on one PostgreSQL database: each node hears, through the database,
//! which users' streams another node has grown and who is typing, and hands that to its own
//! connections (`store::postgres::notify` says how). On SQLite there is one node and nothing
//! to hear.

use super::hub::Hub;
use crate::protocol::UserId;
use crate::store::Store;
use crate::store::postgres::notify::{self, Heard, NodeId};
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
    pub fn start(store: &Store, hub: &Arc<Hub>) -> std::io::Result<Nodes> {
        let stop = Arc::new(AtomicBool::new(false));
        let Some((config, node)) = store.postgres_node() else {
            return Ok(Nodes { typing: None, stop });
        };
        let (listen_config, listening_hub, until) = (config.clone(), Arc::clone(hub), stop.clone());
        std::thread::Builder::new()
            .name("quid-nodes-listen".into())
            .spawn(move || {
                notify::listen(&listen_config, node, &until, |heard| {
                    relay(&listening_hub, heard);
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

fn relay(hub: &Hub, heard: Heard) {
    match heard {
        Heard::Events(grown) => {
            for (user_id, seq) in grown {
                hub.wake(user_id, seq);
            }
        }
        Heard::Typing(users, frame) => hub.publish_ephemeral(&users, frame),
        Heard::Listening => hub.wake_everyone(),
    }
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
