//! The sending half of a connection: one task that owns the socket's sink and sends, in
//! order, what the reader queues (replies, replayed events), then live events once replay is
//! done, and pings on schedule.
//!
//! Live events reach the client in seq order with no gap: an event whose seq is not the next
//! one (events committed by another node, or by `quid admin`, are not published here), or
//! word from another node that the stream has grown, is preceded by what is missing, read
//! from the store.

use crate::protocol::{Seq, ServerFrame, UserId};
use crate::server::hub::{Live, Subscription};
use crate::store::Store;
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Close code telling a client it fell behind and should reconnect and resume.
const CLOSE_LAGGED: u16 = 4000;

/// What the reader hands to the writer task.
pub(super) enum Outgoing {
    Frame(Arc<str>),
    /// Replay is done: from now on forward live events newer than `delivered`.
    Live {
        events: Subscription,
        delivered: Seq,
        backlog: Backlog,
    },
    Close(CloseCode, String),
}

type Sink = SplitSink<super::Socket, Message>;

/// Where a connection reads the events it missed live: its user's stream in the store.
pub(super) struct Backlog {
    pub store: Arc<Store>,
    pub user_id: UserId,
}

/// The live half once replay is done.
struct Following {
    events: Subscription,
    delivered: Seq,
    backlog: Backlog,
}

/// Why forwarding stopped.
enum Broken {
    /// The socket is gone.
    Socket,
    /// The store could not be read: the client should reconnect and resume.
    Store,
}

/// Owns the sending half: forwards queued frames, then live events once replay is done,
/// pings on schedule, and closes the socket when the reader is done or the hub dropped us.
pub(super) async fn write_loop(
    mut sink: Sink,
    mut queue: mpsc::Receiver<Outgoing>,
    ping_interval: std::time::Duration,
) {
    let mut live: Option<Following> = None;
    let mut ping = tokio::time::interval(ping_interval);
    ping.tick().await; // The first tick is immediate; the peer just said hello.
    let close = loop {
        let next_live = async {
            match live.as_mut() {
                Some(following) => following.events.events.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            queued = queue.recv() => match queued {
                Some(Outgoing::Frame(text)) => {
                    if sink.send(Message::text(text.to_string())).await.is_err() { return; }
                }
                Some(Outgoing::Live { events, delivered, backlog }) => {
                    live = Some(Following { events, delivered, backlog });
                }
                Some(Outgoing::Close(code, reason)) => break Some((code, reason)),
                None => break None,
            },
            delivery = next_live => match delivery {
                Some(delivery) => {
                    let Some(following) = live.as_mut() else { continue };
                    match forward_live(&mut sink, following, delivery).await {
                        Ok(()) => {}
                        Err(Broken::Socket) => return,
                        Err(Broken::Store) => break Some((CloseCode::from(CLOSE_LAGGED), "cannot read your events; reconnect and resume".into())),
                    }
                }
                None => break Some((CloseCode::from(CLOSE_LAGGED), "too far behind; reconnect and resume".into())),
            },
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() { return; }
            }
        }
    };
    let frame = close.map(|(code, reason)| CloseFrame {
        code,
        reason: reason.into(),
    });
    let _ = sink.send(Message::Close(frame)).await;
    let _ = sink.close().await;
}

/// Sends a live item: an event not yet delivered, after any it skipped; the events a wake-up
/// announces; a typing frame as it is.
async fn forward_live(
    sink: &mut Sink,
    following: &mut Following,
    item: Live,
) -> Result<(), Broken> {
    let frame = match item {
        Live::Event(delivery) if delivery.seq <= following.delivered => return Ok(()),
        Live::Event(delivery) if delivery.seq.0 == following.delivered.0 + 1 => {
            following.delivered = delivery.seq;
            crate::store::events::frame(delivery.seq, &delivery.event)
        }
        // The store has it, and whatever came before it.
        Live::Event(_) => return catch_up(sink, following).await,
        Live::Wake(seq) if seq <= following.delivered => return Ok(()),
        Live::Wake(_) => return catch_up(sink, following).await,
        Live::Ephemeral(frame) => frame.to_string(),
    };
    send(sink, frame).await
}

/// Sends every event of the user's stream after the last one delivered.
async fn catch_up(sink: &mut Sink, following: &mut Following) -> Result<(), Broken> {
    loop {
        let (user_id, after) = (following.backlog.user_id, following.delivered);
        let page = following
            .backlog
            .store
            .read(move |db| db.events_after(user_id, after, super::REPLAY_PAGE))
            .await
            .map_err(|_| Broken::Store)?;
        let full_page = page.len() == super::REPLAY_PAGE as usize;
        for (seq, event) in page {
            let frame = serde_json::to_string(&ServerFrame::Event { seq, event })
                .map_err(|_| Broken::Store)?;
            send(sink, frame).await?;
            following.delivered = seq;
        }
        if !full_page {
            return Ok(());
        }
    }
}

async fn send(sink: &mut Sink, frame: String) -> Result<(), Broken> {
    sink.send(Message::text(frame))
        .await
        .map_err(|_| Broken::Socket)
}
