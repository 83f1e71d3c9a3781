//! The TUI's state and the plain functions that change it. Nothing here does I/O: input
//! arrives as a [`Msg`], and anything to be done outside (send, fetch, notify, quit) leaves
//! as an [`Effect`] for the event loop to carry out. Every screen is testable from here.

pub mod commands;
mod flow;
pub mod fresh;
mod funding;
pub mod help;
pub mod input;
pub mod login;
pub mod modal;
mod money;
mod network;
pub mod search;
pub mod selection;
pub mod verify;
pub mod wallet;

pub use flow::{Done, Effect, Msg};
pub use funding::FUNDINGS_SHOWN;

use super::keymap::Keymap;
use super::timeline::{self, Timeline};
use crate::money::Money;
use crate::protocol::{
    Conversation, ConversationId, ConversationKind, MessageId, TimestampMs, User,
};
use crate::untrusted::inert_line;
use ratatui::layout::Rect;
use ratatui_textarea::TextArea;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long "X is typing" stays up after the last typing frame.
pub const TYPING_SHOWN_FOR: Duration = Duration::from_secs(5);
/// Least time between two typing frames we send.
pub const TYPING_SEND_EVERY: Duration = Duration::from_secs(3);
/// Messages per history request.
pub const HISTORY_PAGE: u32 = 50;
/// Lines the mouse wheel scrolls.
pub const WHEEL_LINES: usize = 3;
/// What marks a secret conversation in the sidebar, the header and the status bar.
pub const SECRET_SIGIL: &str = "🔒";
/// What marks a secret conversation whose other person is verified.
pub const VERIFIED_SIGIL: &str = "🔐";

/// Sent messages kept for recall with Up.
const RECALL_LIMIT: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    Connecting,
    Connected,
    Reconnecting {
        retry_at: Instant,
    },
    /// The server refused the session's token: logging in again brings it back.
    Refused(String),
    /// The session stopped for good (local state broken).
    Stopped(String),
}

/// A conversation in the sidebar. Names are inert.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationEntry {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub name: String,
    pub members: Vec<String>,
    pub unread: u32,
    /// Unread messages that mention you.
    pub mentions: u32,
    /// No bell or desktop notice, except for a mention.
    pub muted: bool,
    pub last_activity: TimestampMs,
    pub last_message_id: Option<MessageId>,
    /// The newest message we told the server we read.
    pub marked_read: Option<MessageId>,
    /// In a direct conversation with a bot: the business's name for a merchant, else "".
    pub bot: Option<String>,
    /// A secret conversation: end-to-end encrypted, shown with a lock.
    pub secret: bool,
    /// A secret conversation whose other person's devices are all verified here.
    pub verified: bool,
}

impl ConversationEntry {
    fn from_protocol(conversation: &Conversation) -> Self {
        ConversationEntry {
            id: conversation.id,
            kind: conversation.kind,
            name: inert_line(&conversation.name),
            members: conversation
                .members
                .iter()
                .map(|m| inert_line(&m.username))
                .collect(),
            unread: conversation.unread,
            mentions: conversation.unread_mentions,
            muted: conversation.muted,
            last_activity: conversation.last_activity,
            last_message_id: conversation.last_message_id,
            marked_read: None,
            bot: match conversation.kind {
                ConversationKind::Direct => conversation
                    .members
                    .iter()
                    .find(|m| m.bot && m.username == conversation.name)
                    .map(|m| m.merchant.as_deref().map(inert_line).unwrap_or_default()),
                ConversationKind::Group => None,
            },
            secret: conversation.secret,
            verified: false,
        }
    }

    /// `#team`, `@bob`, or `$coffee` for a merchant's shop.
    pub fn label(&self) -> String {
        format!("{}{}", self.sigil(), self.name)
    }

    /// What comes before the name: `#` a group, `$` a merchant, `@` a person or a bot, and a
    /// lock for a secret conversation.
    pub fn sigil(&self) -> &'static str {
        if self.secret {
            return if self.verified {
                VERIFIED_SIGIL
            } else {
                SECRET_SIGIL
            };
        }
        match (self.kind, &self.bot) {
            (ConversationKind::Group, _) => "#",
            (ConversationKind::Direct, Some(merchant)) if !merchant.is_empty() => "$",
            (ConversationKind::Direct, _) => "@",
        }
    }
}

/// What is open over the chat. `App::layers` lists the open ones top first: keys go to the
/// top one first and the view draws them bottom up, so their order is written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    LogIn,
    Help,
    Modal,
    Wallet,
    Search,
    Selection,
    Card,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeKind {
    Info,
    Error,
}

/// A line over the composer saying what just happened. It belongs to the conversation it
/// happened in (shown only there) and fades: gone after `NOTICE_SHOWN_FOR`, errors later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub text: String,
    /// Where it happened; `None` for what concerns no one conversation (a group you left).
    pub conversation: Option<ConversationId>,
    pub at: Instant,
}

/// How long an info notice stays; an error stays `ERROR_SHOWN_FOR`.
pub const NOTICE_SHOWN_FOR: Duration = Duration::from_secs(6);
pub const ERROR_SHOWN_FOR: Duration = Duration::from_secs(20);

impl Notice {
    fn shown_for(&self) -> Duration {
        match self.kind {
            NoticeKind::Info => NOTICE_SHOWN_FOR,
            NoticeKind::Error => ERROR_SHOWN_FOR,
        }
    }

    /// In its last second it is drawn dimmed, so it visibly fades rather than vanishes.
    pub fn fading(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.at) + Duration::from_secs(1) >= self.shown_for()
    }
}

pub struct App {
    /// Where new client ids and idempotency keys come from.
    ids: fresh::FreshIds,
    pub profile: String,
    /// The profile's username: whom logging in again logs in.
    pub username: String,
    pub me: Option<User>,
    pub link: Link,
    /// Sorted by last activity, newest first.
    pub conversations: Vec<ConversationEntry>,
    pub selected: Option<ConversationId>,
    pub timelines: HashMap<ConversationId, Timeline>,
    pub composer: TextArea<'static>,
    pub keymap: Keymap,
    /// The help overlay, while open.
    pub help: Option<help::Help>,
    /// The password prompt, after the server refused the session's token.
    pub login: Option<login::LogIn>,
    /// A verification's code to compare with the other person's screen.
    pub comparing: Option<verify::Comparing>,
    /// The people verified here (inert names).
    pub verified: std::collections::HashSet<String>,
    /// Conversations this device's secret store knows are secret: shown and sent to as
    /// secret whatever the server lists later (a server must not downgrade one to plain).
    pub known_secret: std::collections::HashSet<ConversationId>,
    pub notice: Option<Notice>,
    /// Who is typing where, and when we last heard.
    pub typing: HashMap<ConversationId, (String, Instant)>,
    pub screen: Rect,
    pub now: Instant,
    /// Offset of local time from UTC, in seconds, for timestamps and day separators.
    pub utc_offset_secs: i32,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// Replay is done: events now are news (they may ring, and move the balance).
    pub live: bool,
    /// Wallet balances, as last heard.
    pub balances: Vec<Money>,
    /// The server has told us the balances at least once (before, an empty list means nothing).
    pub balances_heard: bool,
    pub modal: Option<modal::Modal>,
    /// The request or invoice card picked with Tab, if any.
    pub picked: Option<timeline::Pick>,
    /// The wallet view, when open.
    pub wallet: Option<wallet::Wallet>,
    /// The search bar, when open.
    pub search: Option<search::SearchBar>,
    /// The found messages after a jump to one: n / N go through them.
    pub found: Option<search::Found>,
    /// The selected message (selection mode, or a jump from search), highlighted.
    pub focus: Option<(ConversationId, MessageId)>,
    /// Selection mode: keys act on the focused message.
    pub selecting: bool,
    /// A selection key waiting for its second key (a reaction's digit, a delete's `d`).
    pub pending: Option<selection::Pending>,
    /// A reply or an edit being written in the composer.
    pub draft: Option<input::Draft>,
    /// The clock's time at the last tick: "today" for the wallet's chart.
    pub wall: TimestampMs,
    /// Top-ups and withdrawals heard of, newest first.
    pub fundings: Vec<crate::protocol::funding::Funding>,
    /// The top-up started here, while it waits to be paid: its checkout page stays shown.
    pub following: Option<crate::protocol::funding::Funding>,
    /// Where `/withdraw` sends money unless told: the profile's `bank_account`.
    pub bank_account: Option<String>,
    /// Whether a browser window can open here (the runner asks once): checkout pages open
    /// by themselves then.
    pub can_open_browser: bool,
    recall: Vec<String>,
    recall_position: Option<usize>,
    last_typing_sent: Option<Instant>,
}

impl App {
    pub fn new(
        profile: &str,
        keymap: Keymap,
        screen: Rect,
        now: Instant,
        utc_offset_secs: i32,
        ids: fresh::FreshIds,
    ) -> App {
        App {
            ids,
            profile: profile.to_owned(),
            username: String::new(),
            me: None,
            link: Link::Connecting,
            conversations: Vec::new(),
            selected: None,
            timelines: HashMap::new(),
            composer: input::new_composer(),
            keymap,
            help: None,
            login: None,
            comparing: None,
            verified: std::collections::HashSet::new(),
            known_secret: std::collections::HashSet::new(),
            notice: None,
            typing: HashMap::new(),
            screen,
            now,
            utc_offset_secs,
            dirty: true,
            live: false,
            balances: Vec::new(),
            balances_heard: false,
            modal: None,
            picked: None,
            wallet: None,
            search: None,
            found: None,
            focus: None,
            selecting: false,
            pending: None,
            draft: None,
            wall: TimestampMs(0),
            fundings: Vec::new(),
            following: None,
            bank_account: None,
            can_open_browser: false,
            recall: Vec::new(),
            recall_position: None,
            last_typing_sent: None,
        }
    }

    /// Applies one message; returns what the loop must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut effects = Vec::new();
        match msg {
            Msg::Key(key) => self.on_key(key, &mut effects),
            Msg::Mouse(mouse) => self.on_mouse(mouse, &mut effects),
            Msg::Paste(text) => self.on_paste(&text, &mut effects),
            Msg::Resize(width, height) => self.screen = Rect::new(0, 0, width, height),
            Msg::Session(event) => self.on_session(event, &mut effects),
            Msg::Done(done) => self.on_done(done, &mut effects),
            Msg::Tick { now, wall } => {
                self.wall = wall;
                self.on_tick(now);
                return effects;
            }
        }
        self.dirty = true;
        effects
    }

    fn on_tick(&mut self, now: Instant) {
        let notice = |app: &App| app.visible_notice().map(|n| n.fading(app.now));
        let before = (self.typing.len(), self.reconnect_countdown(), notice(self));
        self.now = now;
        self.typing
            .retain(|_, (_, at)| now.duration_since(*at) < TYPING_SHOWN_FOR);
        if self
            .notice
            .as_ref()
            .is_some_and(|n| now.saturating_duration_since(n.at) >= n.shown_for())
        {
            self.notice = None;
        }
        if before != (self.typing.len(), self.reconnect_countdown(), notice(self)) {
            self.dirty = true;
        }
        // Disappearing messages go on time, on screen too.
        let wall = self.wall;
        for timeline in self.timelines.values_mut() {
            self.dirty |= timeline.expire(wall);
        }
    }

    /// Whole seconds until the next reconnect attempt, while reconnecting.
    pub fn reconnect_countdown(&self) -> Option<u64> {
        match self.link {
            Link::Reconnecting { retry_at } => Some(
                retry_at
                    .saturating_duration_since(self.now)
                    .as_secs_f64()
                    .ceil() as u64,
            ),
            _ => None,
        }
    }

    pub fn selected_entry(&self) -> Option<&ConversationEntry> {
        let id = self.selected?;
        self.conversations.iter().find(|c| c.id == id)
    }

    pub fn selected_timeline(&self) -> Option<&Timeline> {
        self.timelines.get(&self.selected?)
    }

    pub fn queued_count(&self) -> usize {
        self.timelines.values().map(Timeline::queued_count).sum()
    }

    /// Who is typing in the selected conversation, if anyone.
    pub fn typing_here(&self) -> Option<&str> {
        self.typing
            .get(&self.selected?)
            .map(|(who, _)| who.as_str())
    }

    fn my_name(&self) -> &str {
        self.me.as_ref().map_or("", |me| me.username.as_str())
    }

    /// Selects a conversation: loads its history the first time, places the "new" marker,
    /// and marks it read.
    fn select(&mut self, id: ConversationId, effects: &mut Vec<Effect>) {
        self.selected = Some(id);
        self.recall_position = None;
        let unread = self
            .conversations
            .iter()
            .find(|c| c.id == id)
            .map_or(0, |c| c.unread);
        let timeline = self.timelines.entry(id).or_default();
        timeline.scroll = 0;
        timeline.new_marker = None;
        if timeline.loaded {
            timeline.place_new_marker(unread);
        } else if !timeline.loading {
            timeline.loading = true;
            effects.push(Effect::LoadHistory {
                conversation_id: id,
                before: None,
            });
        }
        self.mark_read_if_visible(effects);
    }

    /// Tells the server the selected conversation is read, when its newest message is on screen.
    fn mark_read_if_visible(&mut self, effects: &mut Vec<Effect>) {
        let Some(id) = self.selected else { return };
        let Some(timeline) = self.timelines.get(&id) else {
            return;
        };
        if timeline.scroll != 0 {
            return;
        }
        let Some(last) = timeline.last_id() else {
            return;
        };
        let Some(entry) = self.conversations.iter_mut().find(|c| c.id == id) else {
            return;
        };
        entry.unread = 0;
        entry.mentions = 0;
        if entry.marked_read.is_none_or(|marked| marked < last) {
            entry.marked_read = Some(last);
            effects.push(Effect::MarkRead {
                conversation_id: id,
                up_to: last,
            });
        }
    }

    fn sort_conversations(&mut self) {
        self.conversations
            .sort_by_key(|c| std::cmp::Reverse((c.last_activity, c.id)));
    }

    /// The layers open over the chat, top first (see `Layer`).
    pub fn layers(&self) -> Vec<Layer> {
        let open = [
            (Layer::LogIn, self.login.is_some()),
            (Layer::Help, self.help.is_some()),
            (Layer::Modal, self.modal.is_some()),
            (Layer::Wallet, self.wallet.is_some()),
            (Layer::Search, self.search.is_some()),
            (Layer::Selection, self.selecting),
            (Layer::Card, self.picked.is_some()),
        ];
        open.into_iter()
            .filter_map(|(layer, is_open)| is_open.then_some(layer))
            .collect()
    }

    /// Says `text` in the conversation on screen.
    fn info(&mut self, text: impl Into<String>) {
        self.notify_in(self.selected, NoticeKind::Info, text.into());
    }

    fn error(&mut self, text: impl Into<String>) {
        self.notify_in(self.selected, NoticeKind::Error, text.into());
    }

    fn notify_in(&mut self, conversation: Option<ConversationId>, kind: NoticeKind, text: String) {
        self.notice = Some(Notice {
            kind,
            text,
            conversation,
            at: self.now,
        });
    }

    /// The notice to draw: one of this conversation's (or of none), not yet faded out.
    pub fn visible_notice(&self) -> Option<&Notice> {
        self.notice.as_ref().filter(|notice| {
            notice
                .conversation
                .is_none_or(|id| Some(id) == self.selected)
                && self.now.saturating_duration_since(notice.at) < notice.shown_for()
        })
    }

    fn remember_sent(&mut self, text: &str) {
        if self.recall.last().map(String::as_str) != Some(text) {
            self.recall.push(text.to_owned());
            if self.recall.len() > RECALL_LIMIT {
                self.recall.remove(0);
            }
        }
        self.recall_position = None;
    }
}

#[cfg(test)]
pub(crate) mod tests;
