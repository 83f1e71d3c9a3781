//! Wake-ups between nodes on one database, through PostgreSQL's `LISTEN`/`NOTIFY`.
//!
//! A writing transaction announces, on [`EVENTS`], the seqs it gave each user and the
//! positions it gave each conversation's log; PostgreSQL
//! delivers the notice only if the transaction commits, and in commit order. A notice carries
//! no event: every node reads the events from the tables (one query per notice for all its
//! users online there, one for the conversations its connections follow), so a notice that is lost or merged with another loses nothing (the
//! next event shows the gap, or a reconnect covers it). Typing notices, which
//! are never stored, travel whole on [`TYPING`]. Each notice names the node (process) that
//! sent it, so that a node ignores its own.
//!
//! Payloads are text: `NODE uUSER:FIRST-LAST cCONVERSATION:FIRST-LAST ...` on [`EVENTS`],
//! `NODE CONVERSATION:TYPIST` then a newline and the typing frame on [`TYPING`]; each under
//! PostgreSQL's 8000-byte limit.

use super::PgTx;
use crate::protocol::{ApiError, ConversationId, Position, Seq, UserId};
use crate::store::events::Place;
use crate::store::writer::Delivery;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The channel of committed events.
pub const EVENTS: &str = "quid_events";
/// The channel of typing notices.
pub const TYPING: &str = "quid_typing";

/// Room for a payload's entries; PostgreSQL refuses a payload of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;

/// How long the listener waits for a notice before looking whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// How long the listener waits before connecting again after losing its connection.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// A node's name among the nodes: random, fixed for the life of its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeId(pub u64);

impl NodeId {
    pub fn random() -> NodeId {
        NodeId(rand::random())
    }
}

/// Announces, inside the transaction, the seqs it gave each user and the positions it gave
/// each conversation in `deliveries`: a range per stream (a stream's numbers in one
/// transaction are consecutive: its counter row stays locked until the transaction commits).
pub(super) fn announce_events(tx: &PgTx, deliveries: &[Delivery]) -> Result<(), ApiError> {
    let mut users: BTreeMap<UserId, (i64, i64)> = BTreeMap::new();
    let mut conversations: BTreeMap<ConversationId, (i64, i64)> = BTreeMap::new();
    for delivery in deliveries {
        match delivery.place {
            Place::User(user, seq) => widen(&mut users, user, seq.0),
            Place::Conversation(id, pos) => widen(&mut conversations, id, pos.0),
        }
    }
    let users = users
        .iter()
        .map(|(user, (first, last))| format!("u{}:{first}-{last}", user.0));
    let conversations = conversations
        .iter()
        .map(|(id, (first, last))| format!("c{}:{first}-{last}", id.0));
    for payload in payloads(&tx.node.0.to_string(), " ", users.chain(conversations)) {
        tx.notify(EVENTS, &payload);
    }
    Ok(())
}

fn widen<K: Ord>(ranges: &mut BTreeMap<K, (i64, i64)>, key: K, number: i64) {
    let range = ranges.entry(key).or_insert((number, number));
    range.0 = range.0.min(number);
    range.1 = range.1.max(number);
}

/// Sends each typing frame `queue` gives to the other nodes, on a connection of its own
/// (outside any transaction), connecting again when it breaks; returns when the queue's
/// sender is gone. Blocks: run it on a thread of its own.
pub fn relay_typing(
    config: &postgres::Config,
    node: NodeId,
    queue: &std::sync::mpsc::Receiver<((ConversationId, UserId), Arc<str>)>,
) {
    let mut client: Option<postgres::Client> = None;
    for (typist, frame) in queue {
        if client.as_ref().is_none_or(postgres::Client::is_closed) {
            client = config
                .connect(postgres::NoTls)
                .inspect_err(|error| tracing::warn!(%error, "cannot relay typing"))
                .ok();
        }
        if let Some(connected) = client.as_mut()
            && let Err(error) = announce_typing(connected, node, typist, &frame)
        {
            tracing::warn!(%error, "cannot relay typing");
        }
    }
}

/// Sends a typing frame in `conversation` by `typist` to the other nodes, at once.
fn announce_typing(
    client: &mut postgres::Client,
    node: NodeId,
    (conversation, typist): (ConversationId, UserId),
    frame: &str,
) -> Result<(), postgres::Error> {
    if frame.len() > MAX_PAYLOAD / 2 {
        // A typing frame is a conversation id and a user: this one is not.
        tracing::warn!(bytes = frame.len(), "typing frame too large to relay");
        return Ok(());
    }
    let payload = format!("{} {}:{}\n{frame}", node.0, conversation.0, typist.0);
    client.execute("SELECT pg_notify($1, $2)", &[&TYPING, &payload])?;
    Ok(())
}

/// `head` then as many entries as fit in a payload, as many times as it takes.
fn payloads(head: &str, separator: &str, entries: impl Iterator<Item = String>) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = head.to_owned();
    for entry in entries {
        if current.len() + 1 + entry.len() > MAX_PAYLOAD && current.len() > head.len() {
            payloads.push(std::mem::replace(&mut current, head.to_owned()));
        }
        let glue = if current.len() == head.len() {
            " "
        } else {
            separator
        };
        current.push_str(glue);
        current.push_str(&entry);
    }
    if current.len() > head.len() {
        payloads.push(current);
    }
    payloads
}

/// The streams a notice says have grown.
#[derive(Debug, Default, PartialEq)]
pub struct Announced {
    pub users: Vec<(UserId, Seq, Seq)>,
    pub conversations: Vec<(ConversationId, Position, Position)>,
}

/// What another node said.
#[derive(Debug, PartialEq)]
pub enum Heard {
    /// These users' streams and conversations' logs have new events, from the first to the
    /// last number given.
    Events(Announced),
    /// A typing frame in a conversation, by a user.
    Typing(ConversationId, UserId, Arc<str>),
    /// The listener (re)connected: notices sent while it was away are lost, so every
    /// connection should look for events it has not seen.
    Listening,
}

/// Listens for the other nodes until `stop` is set, handing what they say to `heard`;
/// reconnects after a lost connection. Blocks: run it on a thread of its own.
pub fn listen(
    config: &postgres::Config,
    node: NodeId,
    stop: &AtomicBool,
    mut heard: impl FnMut(Heard),
) {
    while !stop.load(Ordering::Relaxed) {
        if let Err(error) = listen_once(config, node, stop, &mut heard) {
            tracing::warn!(%error, "lost the other nodes' notices; listening again shortly");
            std::thread::sleep(RECONNECT_DELAY);
        }
    }
}

fn listen_once(
    config: &postgres::Config,
    node: NodeId,
    stop: &AtomicBool,
    heard: &mut impl FnMut(Heard),
) -> anyhow::Result<()> {
    use postgres::fallible_iterator::FallibleIterator;
    let mut client = config.connect(postgres::NoTls)?;
    client.batch_execute(&format!("LISTEN {EVENTS}; LISTEN {TYPING}"))?;
    heard(Heard::Listening);
    while !stop.load(Ordering::Relaxed) {
        {
            let mut notifications = client.notifications();
            let mut waiting = notifications.timeout_iter(STOP_CHECK);
            while let Some(notification) = waiting.next()? {
                match parse(notification.channel(), notification.payload()) {
                    Some((sender, _)) if sender == node.0 => {}
                    Some((_, said)) => heard(said),
                    None => tracing::warn!(
                        channel = notification.channel(),
                        "a notice no quid node sends; ignored"
                    ),
                }
            }
        }
        if client.is_closed() {
            anyhow::bail!("the connection closed");
        }
    }
    Ok(())
}

/// A notice's sender and meaning; `None` when it is not one quid sends.
fn parse(channel: &str, payload: &str) -> Option<(u64, Heard)> {
    match channel {
        EVENTS => {
            let mut words = payload.split(' ');
            let node = words.next()?.parse().ok()?;
            let mut announced = Announced::default();
            for entry in words {
                let (stream, range) = entry.split_once(':')?;
                let (first, last) = range.split_once('-')?;
                let (first, last): (i64, i64) = (first.parse().ok()?, last.parse().ok()?);
                if first > last {
                    return None;
                }
                if let Some(user) = stream.strip_prefix('u') {
                    let user = UserId(user.parse().ok()?);
                    announced.users.push((user, Seq(first), Seq(last)));
                } else {
                    let id = ConversationId(stream.strip_prefix('c')?.parse().ok()?);
                    let range = (id, Position(first), Position(last));
                    announced.conversations.push(range);
                }
            }
            Some((node, Heard::Events(announced)))
        }
        TYPING => {
            let (head, frame) = payload.split_once('\n')?;
            let (node, place) = head.split_once(' ')?;
            let (conversation, typist) = place.split_once(':')?;
            let conversation = ConversationId(conversation.parse().ok()?);
            let typist = UserId(typist.parse().ok()?);
            let heard = Heard::Typing(conversation, typist, frame.into());
            Some((node.parse().ok()?, heard))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_limit_and_parse_back_to_what_was_sent() {
        let users: Vec<(UserId, Seq, Seq)> = (1..=2_000)
            .map(|n| (UserId(n), Seq(n * 7), Seq(n * 7 + n % 3)))
            .collect();
        let conversations: Vec<(ConversationId, Position, Position)> = (1..=500)
            .map(|n| (ConversationId(n), Position(n * 3), Position(n * 3 + n % 2)))
            .collect();
        let texts = users
            .iter()
            .map(|(u, first, last)| format!("u{}:{}-{}", u.0, first.0, last.0))
            .chain(
                conversations
                    .iter()
                    .map(|(c, first, last)| format!("c{}:{}-{}", c.0, first.0, last.0)),
            );
        let sent = payloads("42", " ", texts);
        assert!(sent.len() > 1, "2,500 entries need several notices");
        let mut back = Announced::default();
        for payload in &sent {
            assert!(payload.len() <= MAX_PAYLOAD);
            match parse(EVENTS, payload) {
                Some((42, Heard::Events(part))) => {
                    back.users.extend(part.users);
                    back.conversations.extend(part.conversations);
                }
                other => panic!("{payload:?} parsed as {other:?}"),
            }
        }
        assert_eq!(back.users, users);
        assert_eq!(back.conversations, conversations);
    }

    #[test]
    fn a_typing_notice_parses_back_and_garbage_is_refused() {
        let payload = "7 3:9\n{\"type\":\"typing\"}";
        assert_eq!(
            parse(TYPING, payload),
            Some((
                7,
                Heard::Typing(ConversationId(3), UserId(9), "{\"type\":\"typing\"}".into())
            ))
        );
        assert_eq!(parse(EVENTS, "7 u3:x"), None);
        assert_eq!(parse(EVENTS, "7 u3:4"), None);
        assert_eq!(parse(EVENTS, "7 u3:5-4"), None);
        assert_eq!(parse(EVENTS, "7 3:4-4"), None, "a stream is named u or c");
        assert_eq!(parse(EVENTS, "node u3:4-4"), None);
        assert_eq!(parse(TYPING, "7 3,4"), None);
        assert_eq!(parse("other", "7 u3:4"), None);
    }
}
