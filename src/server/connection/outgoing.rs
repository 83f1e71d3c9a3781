//! The sending half of a connection: one task that owns the socket's sink and sends, in
//! order, what the reader queues (replies, replayed events), then live events once replay is
//! done, and pings on schedule.

use crate::protocol::Seq;
use crate::server::hub::{Live, Subscription};
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
    },
    Close(CloseCode, String),
}

type Sink = SplitSink<super::Socket, Message>;

/// Owns the sending half: forwards queued frames, then live events once replay is done,
/// pings on schedule, and closes the socket when the reader is done or the hub dropped us.
pub(super) async fn write_loop(
    mut sink: Sink,
    mut queue: mpsc::Receiver<Outgoing>,
    ping_interval: std::time::Duration,
) {
    let mut live: Option<(Subscription, Seq)> = None;
    let mut ping = tokio::time::interval(ping_interval);
    ping.tick().await; // The first tick is immediate; the peer just said hello.
    let close = loop {
        let next_live = async {
            match live.as_mut() {
                Some((subscription, _)) => subscription.events.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            queued = queue.recv() => match queued {
                Some(Outgoing::Frame(text)) => {
                    if sink.send(Message::text(text.to_string())).await.is_err() { return; }
                }
                Some(Outgoing::Live { events, delivered }) => live = Some((events, delivered)),
                Some(Outgoing::Close(code, reason)) => break Some((code, reason)),
                None => break None,
            },
            delivery = next_live => match delivery {
                Some(delivery) => {
                    if !forward_live(&mut sink, &mut live, delivery).await { return; }
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

/// Sends a live item, unless it is an event replay already delivered. False: the socket is gone.
async fn forward_live(sink: &mut Sink, live: &mut Option<(Subscription, Seq)>, item: Live) -> bool {
    let Some((_, delivered)) = live.as_mut() else {
        return true;
    };
    let frame = match item {
        Live::Event(delivery) if delivery.seq <= *delivered => return true,
        Live::Event(delivery) => {
            *delivered = delivery.seq;
            crate::store::events::frame(delivery.seq, &delivery.event)
        }
        Live::Ephemeral(frame) => frame.to_string(),
    };
    sink.send(Message::text(frame)).await.is_ok()
}
