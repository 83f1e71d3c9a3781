//! Catch-up: a client that was away while N messages arrived reconnects. Measures the time from
//! starting its session to `caught_up` handled by the TUI's state with the last message in the
//! open conversation's timeline (the screen's model; drawing is `quid bench tui`). The
//! baseline, in the same run, is reading the same N events straight from the database, in
//! pages as the server does: the floor of what resuming can cost.

use super::{Hello, connect};
use crate::protocol::{ConversationId, MessageId, Position, Seq, UserId, results};
use crate::session::backoff::Backoff;
use crate::session::{Session, SessionConfig, SessionEvent};
use crate::tui::keymap::Keymap;
use crate::tui::state::{App, Done, Msg};
use futures_util::SinkExt;
use ratatui::layout::Rect;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, clap::Args)]
pub struct CatchupArgs {
    /// Messages that arrive while the client is away
    #[arg(long, default_value_t = 10_000)]
    events: u32,
    /// Append the results to docs/PERFORMANCE.md
    #[arg(long)]
    record: bool,
}

pub async fn run(args: &CatchupArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::ensure!(args.events > 0, "--events must be at least 1");
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("server.db");
    let reader =
        super::make_users(&*crate::store::Store::open_sqlite(&db)?, "reader", 1)?.remove(0);
    let writer =
        super::make_users(&*crate::store::Store::open_sqlite(&db)?, "writer", 1)?.remove(0);
    let server = super::start_quid(&db, &[])?;
    let (conversation, last) = send_while_away(&server.addr, &writer.1, args.events).await?;

    let baseline = read_straight(&db, reader.0)?;
    let url = url::Url::parse(&format!("ws://{}", server.addr))?;
    let state_dir = dir.path().join("reader-state");
    let (quid, held) = resume(&url, &reader.1, &state_dir, conversation).await?;
    anyhow::ensure!(
        held == Some(last),
        "the timeline ends at {held:?}, not at the last message {last:?}"
    );
    let ratio = quid.as_secs_f64() / baseline.as_secs_f64().max(1e-9);
    let verdict = if quid < Duration::from_secs(1) {
        "goal met"
    } else {
        "goal not met"
    };
    let table = format!(
        "{} events while away\n\n\
         | what | ms |\n|---|---|\n\
         | baseline: the same events read straight from the database, in pages | {:.1} |\n\
         | quid: session start to caught_up handled, last message in the timeline | {:.1} |\n\n\
         quid / baseline: {ratio:.1}. Verdict: {verdict} (under 1 s).",
        args.events,
        baseline.as_secs_f64() * 1e3,
        quid.as_secs_f64() * 1e3
    );
    super::report("quid bench catchup", &table, args.record)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The writer sends `count` messages to the reader (pipelined) and returns the conversation
/// and the last message's id.
async fn send_while_away(
    addr: &str,
    token: &str,
    count: u32,
) -> anyhow::Result<(ConversationId, MessageId)> {
    let mut socket = connect(addr, Some(token), Hello::Plain).await?;
    let open = r#"{"id":1,"type":"open_direct","username":"reader0"}"#;
    socket.send(Message::text(open)).await?;
    let conversation: results::OneConversation = super::next_result(&mut socket).await?;
    let conversation = conversation.conversation.id;
    for n in 0..count {
        let frame = format!(
            r#"{{"id":{},"type":"send","conversation_id":{},"client_id":"{}","text":"while you were away, number {n}"}}"#,
            n + 2,
            conversation.0,
            uuid::Uuid::new_v4()
        );
        socket.send(Message::text(frame)).await?;
    }
    let mut last = MessageId(0);
    for _ in 0..count {
        let sent: results::Sent = super::next_result(&mut socket).await?;
        last = last.max(sent.message.id);
    }
    Ok((conversation, last))
}

/// Reads every event of `user` from the database, in the server's replay pages: their own
/// stream, then each conversation's log within their window (protocol 2's resume).
fn read_straight(db: &std::path::Path, user: UserId) -> anyhow::Result<Duration> {
    let store = crate::store::Store::open_sqlite(db)?;
    let started = Instant::now();
    store
        .read_blocking(|db| {
            let mut after = Seq::ZERO;
            while let Some((last, _)) = db.events_after(user, after, 500)?.last() {
                after = *last;
            }
            for window in db.windows_of(user)? {
                let mut after = Position(0);
                loop {
                    let page =
                        db.conversation_events_for(user, window.conversation_id, after, 500)?;
                    let Some((last, _)) = page.last() else { break };
                    after = *last;
                }
            }
            Ok(())
        })
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(started.elapsed())
}

/// Starts the reader's session with the TUI's state, as `quid` does, and times it to
/// `caught_up`. Returns the time and the newest message the open timeline holds.
async fn resume(
    url: &url::Url,
    token: &str,
    state_dir: &std::path::Path,
    conversation: ConversationId,
) -> anyhow::Result<(Duration, Option<MessageId>)> {
    let mut app = App::new(
        "bench",
        Keymap::default(),
        Rect::new(0, 0, 100, 30),
        Instant::now(),
        0,
        crate::tui::state::fresh::FreshIds::random(),
    );
    let started = Instant::now();
    let (_session, mut events) = Session::start(SessionConfig {
        server: url.clone(),
        ca_file: None,
        token: token.to_owned(),
        state_dir: state_dir.to_owned(),
        subscribe: true,
        backoff: Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_secs(1),
        },
        secret: None,
    })?;
    while let Some(event) = events.recv().await {
        let connected = matches!(event, SessionEvent::Connected { .. });
        let caught_up = matches!(event, SessionEvent::CaughtUp);
        app.update(Msg::Session(event));
        if connected {
            // What the TUI's first effects fetch: the conversation, open, its history loaded.
            open_empty(&mut app, conversation);
        }
        if caught_up {
            let held = app.timelines.get(&conversation).and_then(|t| t.last_id());
            return Ok((started.elapsed(), held));
        }
    }
    anyhow::bail!("the session ended before catching up")
}

fn open_empty(app: &mut App, conversation: ConversationId) {
    app.update(Msg::Done(Done::Conversations(vec![
        crate::protocol::Conversation {
            id: conversation,
            kind: crate::protocol::ConversationKind::Direct,
            name: "writer0".into(),
            members: Vec::new(),
            unread: 0,
            last_message_id: None,
            last_activity: crate::protocol::TimestampMs(0),
            others_read_up_to: None,
            unread_mentions: 0,
            muted: false,
            secret: false,
        },
    ])));
    app.update(Msg::Done(Done::History {
        conversation_id: conversation,
        before: None,
        page: results::History {
            messages: Vec::new(),
            has_more: false,
            others_read_up_to: None,
        },
    }));
}
