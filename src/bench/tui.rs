//! The TUI: the time to handle one key and draw one frame, with 1,000 / 100,000 / 1,000,000
//! messages in the open conversation, at 80x24 and 300x100, on ratatui's TestBackend (the
//! state machine and the view, no terminal). The baseline is the smallest history at the
//! same size: drawing must cost the screen, not the history, so the ratio should stay near 1.

use crate::protocol::{
    ClientMsgId, Conversation, ConversationId, ConversationKind, Message, MessageId, TimestampMs,
    User, UserId, results,
};
use crate::session::SessionEvent;
use crate::tui::keymap::Keymap;
use crate::tui::state::{App, Done, Msg};
use crate::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct TuiArgs {
    /// Frames timed per case
    #[arg(long, default_value_t = 2000)]
    frames: u32,
    /// Append the results to docs/PERFORMANCE.md
    #[arg(long)]
    record: bool,
}

const HISTORIES: [usize; 3] = [1_000, 100_000, 1_000_000];
const SIZES: [(u16, u16); 2] = [(80, 24), (300, 100)];

pub fn run(args: &TuiArgs) -> anyhow::Result<std::process::ExitCode> {
    let mut rows = Vec::new();
    let mut worst_ratio: f64 = 0.0;
    let mut slowest = Duration::ZERO;
    for (width, height) in SIZES {
        let mut baseline = None;
        for history in HISTORIES {
            let per_frame = time_frames(width, height, history, args.frames)?;
            let base = *baseline.get_or_insert(per_frame);
            let ratio = per_frame.as_secs_f64() / base.as_secs_f64();
            worst_ratio = worst_ratio.max(ratio);
            slowest = slowest.max(per_frame);
            rows.push(format!(
                "| {width}x{height} | {history} | {:.1} | {ratio:.2} |",
                per_frame.as_secs_f64() * 1e6
            ));
        }
    }
    let verdict = if slowest < Duration::from_millis(1) && worst_ratio < 1.5 {
        "goal met"
    } else {
        "goal not met"
    };
    let table = format!(
        "one key handled and one frame drawn, {} frames a case, TestBackend\n\n\
         | terminal | messages in the conversation | us per key + frame | vs 1,000 messages |\n\
         |---|---|---|---|\n{}\n\n\
         Slowest {:.0} us; worst ratio to the smallest history {worst_ratio:.2}. Verdict: {verdict} (under 1 ms, flat in history size).",
        args.frames,
        rows.join("\n"),
        slowest.as_secs_f64() * 1e6
    );
    super::report("quid bench tui", &table, args.record)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Mean time to handle a key (a character typed into the composer) and draw the frame.
fn time_frames(width: u16, height: u16, history: usize, frames: u32) -> anyhow::Result<Duration> {
    let mut app = app_with_history(width, height, history);
    let mut terminal = Terminal::new(TestBackend::new(width, height))?;
    let theme = Theme::default();
    let started = Instant::now();
    for n in 0..frames {
        // Type and erase, so the composer does not grow with the run.
        let code = if n % 2 == 0 {
            KeyCode::Char('x')
        } else {
            KeyCode::Backspace
        };
        app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        terminal.draw(|frame| crate::tui::view::draw(frame, &app, &theme))?;
    }
    Ok(started.elapsed() / frames)
}

/// alice, connected, with a direct conversation with bob holding `history` messages, open.
fn app_with_history(width: u16, height: u16, history: usize) -> App {
    let mut app = app_with_conversation(width, height, history);
    app.update(Msg::Done(Done::History {
        conversation_id: ConversationId(1),
        before: None,
        page: results::History {
            messages: messages(1..=history),
            has_more: false,
            others_read_up_to: None,
        },
    }));
    app
}

/// alice, connected, with a direct conversation with bob whose newest message is `last`,
/// open and waiting for its history.
pub(super) fn app_with_conversation(width: u16, height: u16, last: usize) -> App {
    let mut app = App::new(
        "bench",
        Keymap::default(),
        Rect::new(0, 0, width, height),
        Instant::now(),
        0,
        crate::tui::state::fresh::FreshIds::random(),
    );
    let (alice, bob) = people();
    app.update(Msg::Session(SessionEvent::Connected {
        user: alice.clone(),
    }));
    app.update(Msg::Session(SessionEvent::CaughtUp));
    app.update(Msg::Done(Done::Conversations(vec![Conversation {
        id: ConversationId(1),
        kind: ConversationKind::Direct,
        name: "bob".into(),
        members: vec![alice, bob],
        unread: 0,
        last_message_id: Some(MessageId(last as i64)),
        last_activity: sent_at(last),
        others_read_up_to: None,
        unread_mentions: 0,
        muted: false,
        secret: false,
    }])));
    app
}

fn people() -> (User, User) {
    (User::new(UserId(1), "alice"), User::new(UserId(2), "bob"))
}

fn sent_at(n: usize) -> TimestampMs {
    TimestampMs(1_795_511_700_000 + n as i64 * 1000)
}

/// Messages `ids` of the conversation, one a second, two of three from bob.
pub(super) fn messages(ids: std::ops::RangeInclusive<usize>) -> Vec<Message> {
    let (alice, bob) = people();
    ids.map(|n| Message {
        id: MessageId(n as i64),
        conversation_id: ConversationId(1),
        sender: if n % 3 == 0 {
            alice.clone()
        } else {
            bob.clone()
        },
        client_id: ClientMsgId::random(),
        text: format!("message number {n}, long enough to wrap on a narrow terminal now and then"),
        sent_at: sent_at(n),
        card: None,
        reply_to: None,
        file: None,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        sealed: None,
        expires_at: None,
        unreadable: None,
    })
    .collect()
}
