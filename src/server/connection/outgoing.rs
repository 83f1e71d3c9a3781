//! The sending half of a connection: one task that owns the socket's sink and sends, in
//! order, what the reader queues (replies), then the replay a hello asked for, then live
//! events, and pings on schedule.
//!
//! Events reach the client in order with no gap, per stream: its user's own stream by seq,
//! each conversation it follows by position. An event that is not the next one (committed by
//! another node or writer, or by `quid admin`, and not yet published here), or word from
//! another node that a stream has grown, is preceded by what is missing, read from the store.
//! A conversation is followed from the event that says its user joined it until the one that
//! says they left; reads from the store keep to the user's window, so nothing from outside a
//! membership is ever sent.

use crate::protocol::{ConversationId, Position, Seq, ServerFrame, UserId};
use crate::server::hub::{Live, Subscription, Wake};
use crate::store::Store;
use crate::store::events::{Membership, Place, Window};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Close code telling a client it fell behind and should reconnect and resume.
const CLOSE_LAGGED: u16 = 4000;

/// What the reader hands to the writer task.
pub(super) enum Outgoing {
    Frame(Arc<str>),
    /// Replay what the hello asked for, then forward live events.
    Resume(Box<Resume>),
    Close(CloseCode, String),
}

/// Where a hello asked to resume, and the subscription (already following the conversations
/// the user is a member of) that carries live events meanwhile.
pub(super) struct Resume {
    pub events: Subscription,
    pub store: Arc<Store>,
    pub user_id: UserId,
    /// The last seq of the user's stream the client holds.
    pub seq: Seq,
    /// Each conversation's window, and the position after which to replay it.
    pub conversations: Vec<(Window, Position)>,
}

type Sink = SplitSink<super::Socket, Message>;

/// The live half once replay is done.
struct Following {
    events: Subscription,
    store: Arc<Store>,
    user_id: UserId,
    /// The last seq of the user's stream sent.
    delivered: Seq,
    /// The last position sent of each conversation this connection has sent any of.
    positions: HashMap<ConversationId, Position>,
    /// The conversations whose live events this connection takes (its user is a member).
    followed: HashSet<ConversationId>,
}

/// Why forwarding stopped.
enum Broken {
    /// The socket is gone.
    Socket,
    /// The store could not be read: the client should reconnect and resume.
    Store,
}

/// Owns the sending half: forwards queued frames, replays, then forwards live events, pings
/// on schedule, and closes the socket when the reader is done or the hub dropped us.
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
                    let sent = send(&mut sink, text.to_string()).await;
                    if sent.and(flush(&mut sink).await).is_err() { return; }
                }
                Some(Outgoing::Resume(resume)) => {
                    let replayed = match replay(&mut sink, *resume).await {
                        Ok(following) => flush(&mut sink).await.map(|()| following),
                        Err(broken) => Err(broken),
                    };
                    match replayed {
                        Ok(following) => live = Some(following),
                        Err(Broken::Socket) => return,
                        Err(Broken::Store) => break Some(store_failed()),
                    }
                }
                Some(Outgoing::Close(code, reason)) => break Some((code, reason)),
                None => break None,
            },
            delivery = next_live => match delivery {
                Some(delivery) => {
                    let Some(following) = live.as_mut() else { continue };
                    match forward_ready(&mut sink, following, delivery).await {
                        Ok(()) => {}
                        Err(Broken::Socket) => return,
                        Err(Broken::Store) => break Some(store_failed()),
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

fn store_failed() -> (CloseCode, String) {
    (
        CloseCode::from(CLOSE_LAGGED),
        "cannot read your events; reconnect and resume".into(),
    )
}

/// Sends the user's own events after the hello's seq, then each conversation's after its
/// position, then `caught_up`; live events that arrive meanwhile wait in the subscription and
/// are deduplicated against what was sent.
async fn replay(sink: &mut Sink, resume: Resume) -> Result<Following, Broken> {
    let Resume {
        events,
        store,
        user_id,
        seq,
        conversations,
    } = resume;
    let mut following = Following {
        events,
        store,
        user_id,
        delivered: seq,
        positions: HashMap::new(),
        followed: HashSet::new(),
    };
    for (window, after) in &conversations {
        let start = (*after).max(window.joined);
        following.positions.insert(window.conversation_id, start);
        if window.is_open() {
            following.followed.insert(window.conversation_id);
        }
    }
    catch_up_user(sink, &mut following).await?;
    for (window, _) in &conversations {
        let id = window.conversation_id;
        if following
            .positions
            .get(&id)
            .is_some_and(|&p| p < window.end())
        {
            catch_up_conversation(sink, &mut following, id).await?;
        }
    }
    let caught_up = ServerFrame::CaughtUp {
        seq: following.delivered,
    };
    send(sink, encode(&caught_up)?).await?;
    Ok(following)
}

/// Most live items written out together: what is ready when one arrives goes in the same
/// write (one flush, and under load one system call for many frames).
const WRITE_BATCH: usize = 256;

/// Forwards `first` and whatever else is ready in the subscription, then flushes once.
async fn forward_ready(
    sink: &mut Sink,
    following: &mut Following,
    first: Live,
) -> Result<(), Broken> {
    forward_live(sink, following, first).await?;
    for _ in 1..WRITE_BATCH {
        let Ok(next) = following.events.events.try_recv() else {
            break;
        };
        forward_live(sink, following, next).await?;
    }
    flush(sink).await
}

/// Sends a live item: an event not yet delivered, after any it skipped; the events a wake-up
/// announces; a typing frame as it is.
async fn forward_live(
    sink: &mut Sink,
    following: &mut Following,
    item: Live,
) -> Result<(), Broken> {
    match item {
        Live::Event(delivery) => match delivery.place {
            Place::User(_, seq) if seq <= following.delivered => Ok(()),
            Place::User(_, seq) if seq.0 == following.delivered.0 + 1 => {
                send(sink, delivery.frame).await?;
                following.delivered = seq;
                on_membership(sink, following, delivery.membership).await
            }
            // The store has it, and whatever came before it.
            Place::User(..) => catch_up_user(sink, following).await,
            Place::Conversation(id, _) if !following.followed.contains(&id) => Ok(()),
            Place::Conversation(id, pos) => {
                let sent = following
                    .positions
                    .get(&id)
                    .copied()
                    .unwrap_or(Position::ZERO);
                if pos <= sent {
                    Ok(())
                } else if pos.0 == sent.0 + 1 {
                    send(sink, delivery.frame).await?;
                    following.positions.insert(id, pos);
                    on_membership(sink, following, delivery.membership).await
                } else {
                    catch_up_conversation(sink, following, id).await
                }
            }
        },
        Live::Wake(Wake::User(seq)) if seq <= following.delivered => Ok(()),
        Live::Wake(Wake::User(_)) => catch_up_user(sink, following).await,
        Live::Wake(Wake::Conversation(id, pos)) => {
            let behind = following.followed.contains(&id)
                && following.positions.get(&id).is_none_or(|&sent| sent < pos);
            if behind {
                catch_up_conversation(sink, following, id).await?;
            }
            Ok(())
        }
        Live::Wake(Wake::Everything) => {
            catch_up_user(sink, following).await?;
            let followed: Vec<ConversationId> = following.followed.iter().copied().collect();
            for id in followed {
                catch_up_conversation(sink, following, id).await?;
            }
            Ok(())
        }
        Live::Ephemeral(frame) => send(sink, frame).await,
    }
}

/// Follows a conversation its user just joined (from where they joined), or stops following
/// one they just left.
async fn on_membership(
    sink: &mut Sink,
    following: &mut Following,
    membership: Option<Membership>,
) -> Result<(), Broken> {
    match membership {
        Some(Membership::Joined(id)) if following.followed.insert(id) => {
            following.events.follow(id);
            catch_up_conversation(sink, following, id).await
        }
        Some(Membership::Left(id, user_id)) if user_id == following.user_id => {
            following.followed.remove(&id);
            following.events.unfollow(id);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Sends every event of the user's stream after the last one delivered.
async fn catch_up_user(sink: &mut Sink, following: &mut Following) -> Result<(), Broken> {
    loop {
        let (user_id, after) = (following.user_id, following.delivered);
        let page = following
            .store
            .read(move |db| db.events_after(user_id, after, super::REPLAY_PAGE))
            .await
            .map_err(|_| Broken::Store)?;
        let full_page = page.len() == super::REPLAY_PAGE as usize;
        for (seq, event) in page {
            let membership = Membership::of(&event);
            send(sink, encode(&ServerFrame::Event { seq, event })?).await?;
            following.delivered = seq;
            on_membership(sink, following, membership).await?;
        }
        if !full_page {
            return Ok(());
        }
    }
}

/// Sends every event of conversation `id` after the last one sent that the user may read.
async fn catch_up_conversation(
    sink: &mut Sink,
    following: &mut Following,
    id: ConversationId,
) -> Result<(), Broken> {
    loop {
        let user_id = following.user_id;
        let after = following
            .positions
            .get(&id)
            .copied()
            .unwrap_or(Position::ZERO);
        let page = following
            .store
            .read(move |db| db.conversation_events_for(user_id, id, after, super::REPLAY_PAGE))
            .await
            .map_err(|_| Broken::Store)?;
        let full_page = page.len() == super::REPLAY_PAGE as usize;
        for (pos, event) in page {
            let membership = Membership::of(&event);
            let frame = ServerFrame::ConversationEvent {
                conversation_id: id,
                pos,
                event,
            };
            send(sink, encode(&frame)?).await?;
            following.positions.insert(id, pos);
            if let Some(Membership::Left(left, user)) = membership
                && (left, user) == (id, user_id)
            {
                following.followed.remove(&id);
                following.events.unfollow(id);
                return Ok(());
            }
        }
        if !full_page {
            return Ok(());
        }
    }
}

fn encode(frame: &ServerFrame) -> Result<String, Broken> {
    serde_json::to_string(frame).map_err(|_| Broken::Store)
}

/// Queues a frame for the socket; `flush` writes it out (the sink also writes whenever its
/// buffer fills, so a long replay streams).
async fn send(sink: &mut Sink, frame: impl Into<Utf8Bytes>) -> Result<(), Broken> {
    sink.feed(Message::Text(frame.into()))
        .await
        .map_err(|_| Broken::Socket)
}

async fn flush(sink: &mut Sink) -> Result<(), Broken> {
    sink.flush().await.map_err(|_| Broken::Socket)
}
