//! What the session and finished effects tell the state.

use super::{App, ConversationEntry, Done, Effect, Link, NoticeKind};
use crate::protocol::payments::{InvoiceStatus, RequestStatus};
use crate::protocol::{ClientMsgId, Conversation, ConversationId, Event, Message, MessageId};
use crate::session::SessionEvent;
use crate::tui::timeline::{Entry, Pick};
use crate::untrusted::{inert, inert_line};

/// Longest message preview in a notification, in characters.
const NOTIFY_PREVIEW_CHARS: usize = 100;

impl App {
    pub(super) fn on_session(&mut self, event: SessionEvent, effects: &mut Vec<Effect>) {
        match event {
            SessionEvent::Connecting { .. } => {
                if !matches!(self.link, Link::Reconnecting { .. }) {
                    self.link = Link::Connecting;
                }
            }
            SessionEvent::Connected { user } => {
                self.me = Some(user);
                self.link = Link::Connected;
                effects.push(Effect::LoadConversations);
                effects.push(Effect::LoadBalance);
            }
            SessionEvent::Disconnected { retry_in, .. } => {
                self.live = false;
                self.link = Link::Reconnecting {
                    retry_at: self.now + retry_in,
                };
            }
            SessionEvent::AuthRejected { reason } => self.on_refused(&reason),
            SessionEvent::Failed { reason } => self.link = Link::Stopped(inert_line(&reason)),
            SessionEvent::Verify(verify) => self.on_verify(verify),
            SessionEvent::SecretUnavailable { reason } => self.notify_in(
                None,
                NoticeKind::Error,
                format!("secret conversations unavailable: {}", inert_line(&reason)),
            ),
            SessionEvent::CaughtUp => self.live = true,
            SessionEvent::Event { event, .. } => self.on_event(event, effects),
            SessionEvent::Typing {
                conversation_id,
                user,
            } => {
                self.typing
                    .insert(conversation_id, (inert_line(&user.username), self.now));
            }
            SessionEvent::Sent { message, .. } => self.on_message(&message, effects),
            SessionEvent::SecretNotSent {
                client_id,
                conversation_id,
                text,
                reason,
            } => self.secret_not_sent(client_id, conversation_id, &text, &reason),
            SessionEvent::SendRefused {
                client_id, error, ..
            } => {
                for timeline in self.timelines.values_mut() {
                    timeline.remove_queued(client_id);
                }
                self.error(format!("message not sent: {}", inert_line(&error.message)));
            }
        }
    }

    /// A secret message that did not go: its entry leaves, and nothing typed is lost: the
    /// text comes back to the composer unless something new is there.
    fn secret_not_sent(
        &mut self,
        client_id: ClientMsgId,
        conversation_id: ConversationId,
        text: &str,
        reason: &str,
    ) {
        if let Some(timeline) = self.timelines.get_mut(&conversation_id) {
            timeline.remove_queued(client_id);
        }
        if self.selected == Some(conversation_id) && self.composer.is_empty() {
            self.composer = super::input::composer_holding(text);
        }
        self.notify_in(
            Some(conversation_id),
            NoticeKind::Error,
            format!("not sent: {}", inert_line(reason)),
        );
    }

    fn on_event(&mut self, event: Event, effects: &mut Vec<Effect>) {
        match event {
            Event::Message { message } => self.on_message(&message, effects),
            Event::MessageUpdated { message } => {
                let entry = Entry::from_message(&message, self.my_name());
                if let Some(timeline) = self.timelines.get_mut(&message.conversation_id) {
                    timeline.update(entry);
                }
            }
            Event::Joined { conversation } | Event::ConversationUpdated { conversation } => {
                self.upsert(&conversation)
            }
            Event::MemberJoined {
                conversation_id,
                user,
            } => {
                if let Some(entry) = self.entry_mut(conversation_id) {
                    entry.members.push(inert_line(&user.username));
                    entry.members.sort();
                }
            }
            Event::MemberLeft {
                conversation_id,
                user,
            } => {
                if Some(&user.username) == self.me.as_ref().map(|m| &m.username) {
                    self.forget(conversation_id, effects);
                } else if let Some(entry) = self.entry_mut(conversation_id) {
                    let name = inert_line(&user.username);
                    entry.members.retain(|m| *m != name);
                }
            }
            Event::InvoicePaid { invoice } | Event::InvoiceUpdated { invoice } => {
                if let Some(timeline) = self.timelines.get_mut(&invoice.conversation_id) {
                    timeline.update_invoice(&invoice);
                }
                if self.picked == Some(Pick::Invoice(invoice.id))
                    && invoice.status != InvoiceStatus::Open
                {
                    self.picked = None;
                }
                self.refresh_balance(effects);
            }
            // Keys are the device's business, not the screen's: nothing to show.
            Event::KeysLow { .. } => {}
            Event::FundingUpdated { funding } => self.on_funding_updated(*funding, effects),
            Event::RequestUpdated { request } => {
                if let Some(timeline) = self.timelines.get_mut(&request.conversation_id) {
                    timeline.update_request(&request);
                }
                if self.picked == Some(Pick::Request(request.id))
                    && request.status != RequestStatus::Open
                {
                    self.picked = None;
                }
                self.refresh_balance(effects);
            }
            Event::Read {
                conversation_id,
                user,
                up_to,
            } => {
                let by_me = Some(&user.username) == self.me.as_ref().map(|m| &m.username);
                if by_me {
                    if let Some(entry) = self.entry_mut(conversation_id)
                        && entry.last_message_id.is_some_and(|last| up_to >= last)
                    {
                        entry.unread = 0;
                        entry.mentions = 0;
                    }
                } else {
                    self.note_read_by_others(conversation_id, Some(up_to));
                }
            }
        }
    }

    fn on_message(&mut self, message: &Message, effects: &mut Vec<Effect>) {
        let me = self.my_name().to_owned();
        let mine = message.sender.username == me;
        let id = message.conversation_id;
        if self.entry_mut(id).is_none() {
            // A conversation we have not heard of yet: the list will bring it.
            effects.push(Effect::LoadConversations);
            return;
        }
        if !mine {
            // Sending moves the sender's read marker to their message: they read what came
            // before it (the server moved it; this event is the news of it).
            self.note_read_by_others(id, Some(message.id));
        }
        let Some(entry) = self.entry_mut(id) else {
            return;
        };
        let is_new = entry.last_message_id.is_none_or(|last| message.id > last);
        if is_new {
            entry.last_message_id = Some(message.id);
            entry.last_activity = entry.last_activity.max(message.sent_at);
        }
        let timeline = self.timelines.entry(id).or_default();
        // The typing indicator ends with the message it announced.
        if self
            .typing
            .get(&id)
            .is_some_and(|(who, _)| *who == inert_line(&message.sender.username))
        {
            self.typing.remove(&id);
        }
        if timeline.loaded {
            timeline.insert(Entry::from_message(message, &me));
        }
        let in_view = self.selected == Some(id) && timeline.scroll == 0;
        if is_new && !mine && timeline.scroll > 0 {
            timeline.unseen_below += 1;
        }
        let mentions_me = !mine && crate::tui::timeline::mentions(message, &me);
        let mut muted = false;
        if let Some(entry) = self.entry_mut(id) {
            muted = entry.muted;
            if is_new && !mine && !in_view {
                entry.unread += 1;
                entry.mentions += u32::from(mentions_me);
            }
        }
        if message.card.is_some() {
            self.refresh_balance(effects);
        }
        // Replay after a (re)connect is history: it rings no bell. A muted conversation
        // rings only for a mention.
        if self.live && is_new && !mine && self.selected != Some(id) && (!muted || mentions_me) {
            effects.push(self.notification(message));
        }
        self.sort_conversations();
        if in_view {
            self.mark_read_if_visible(effects);
        }
    }
}

impl App {
    /// Money moved: ask for the balance, unless this is replay (the connect already asked).
    pub(super) fn refresh_balance(&self, effects: &mut Vec<Effect>) {
        if self.live && !effects.contains(&Effect::LoadBalance) {
            effects.push(Effect::LoadBalance);
        }
    }

    fn notification(&self, message: &Message) -> Effect {
        let place = self
            .conversations
            .iter()
            .find(|c| c.id == message.conversation_id);
        let sender = inert_line(&message.sender.username);
        let title = match place {
            Some(entry) if entry.kind == crate::protocol::ConversationKind::Group => {
                format!("{sender} in {}", entry.label())
            }
            _ => sender,
        };
        // A secret message's text stays in quid: notifications go through other programs.
        let body: String = match message.sealed {
            Some(_) => "new secret message".to_owned(),
            None => inert_line(&message.text)
                .chars()
                .take(NOTIFY_PREVIEW_CHARS)
                .collect(),
        };
        Effect::Notify { title, body }
    }

    pub(super) fn on_done(&mut self, done: Done, effects: &mut Vec<Effect>) {
        match done {
            Done::Conversations(list) => self.on_conversations_listed(&list, effects),
            Done::History {
                conversation_id,
                before,
                page,
            } => self.on_history(conversation_id, before, &page, effects),
            Done::SecretSent { message, .. } => self.on_message(&message, effects),
            Done::SecretHeld { conversation_id } => self.notify_in(
                Some(conversation_id),
                NoticeKind::Info,
                "offline: kept encrypted on this device; sealed and sent once connected".into(),
            ),
            Done::SecretNotSent {
                client_id,
                conversation_id,
                text,
                reason,
            } => self.secret_not_sent(client_id, conversation_id, &text, &reason),
            Done::KeysAccepted { username, devices } => self.on_keys_accepted(&username, devices),
            Done::Opened(conversation) => {
                self.upsert(&conversation);
                self.sort_conversations();
                self.select(conversation.id, effects);
            }
            Done::Left(id) => self.on_left(id, effects),
            Done::Balance(_)
            | Done::Paid(_)
            | Done::Requested(_)
            | Done::RequestClosed(_)
            | Done::MoneyFailed { .. } => self.on_money_done(done, effects),
            Done::Searched { query, found } => self.on_search_results(&query, &found),
            Done::TopupStarted(funding) => self.on_topup_started(funding, effects),
            Done::Withdrawn(funding) => self.on_withdrawn(funding, effects),
            Done::Fundings(list) => self.on_fundings_listed(list),
            Done::LoggedIn => self.on_logged_in(),
            Done::LogInFailed(reason) => self.on_log_in_failed(&reason),
            Done::FileSent(Ok(said)) | Done::FileSaved(Ok(said)) => self.info(said),
            Done::FileSent(Err(why)) | Done::FileSaved(Err(why)) => self.error(why),
            Done::Statement(lines) => {
                if let Some(wallet) = self.wallet.as_mut() {
                    wallet.load(lines);
                }
            }
            Done::Exported(outcome) => self.on_exported(outcome),
            Done::Failed(text) => {
                for timeline in self.timelines.values_mut() {
                    timeline.loading = false;
                }
                self.error(inert(&text));
            }
        }
    }

    /// The server's list of conversations: each added or refreshed, the rest gone; the
    /// selection kept if it is still there.
    fn on_conversations_listed(&mut self, list: &[Conversation], effects: &mut Vec<Effect>) {
        for conversation in list {
            self.upsert(conversation);
        }
        let listed: Vec<_> = list.iter().map(|c| c.id).collect();
        self.conversations.retain(|c| listed.contains(&c.id));
        self.sort_conversations();
        let still_there = self.selected.is_some_and(|id| listed.contains(&id));
        if !still_there {
            self.selected = None;
            if let Some(first) = self.conversations.first().map(|c| c.id) {
                self.select(first, effects);
            }
        }
    }

    /// A page of `conversation_id`'s history, older than `before` (the newest without): merged
    /// into its timeline; the first page places the new-messages marker.
    fn on_history(
        &mut self,
        conversation_id: ConversationId,
        before: Option<MessageId>,
        page: &crate::protocol::results::History,
        effects: &mut Vec<Effect>,
    ) {
        let me = self.my_name().to_owned();
        let unread = self.entry_mut(conversation_id).map_or(0, |e| e.unread);
        let entries = page
            .messages
            .iter()
            .map(|m| Entry::from_message(m, &me))
            .collect();
        self.note_read_by_others(conversation_id, page.others_read_up_to);
        let timeline = self.timelines.entry(conversation_id).or_default();
        let first_load = !timeline.loaded;
        timeline.merge_page(entries, page.has_more, before.is_some());
        if first_load && self.selected == Some(conversation_id) {
            timeline.place_new_marker(unread);
            self.mark_read_if_visible(effects);
        }
        if self.focus.is_some_and(|(id, _)| id == conversation_id) {
            self.bring_focus_into_view(effects);
        }
    }

    /// The devices /accept-keys accepted, `devices` of them, for `username` and this user.
    fn on_keys_accepted(&mut self, username: &str, devices: usize) {
        if devices == 0 {
            self.info(format!(
                "no new device to accept for {} or you",
                inert_line(username)
            ));
            return;
        }
        // New keys are not verified ones: the lock shows it until /verify.
        self.set_verified(username, false);
        self.info(format!(
            "accepted {devices} new device(s) for {} and you; messages to them can be sent",
            inert_line(username)
        ));
    }

    /// This user left group `id`.
    fn on_left(&mut self, id: ConversationId, effects: &mut Vec<Effect>) {
        let group = self.conversations.iter().find(|c| c.id == id);
        let text = group.map_or("You left the group.".to_owned(), |g| {
            format!("You left {}{}.", g.sigil(), g.name)
        });
        self.forget(id, effects);
        // Said wherever you are next: the group it happened in is gone.
        self.notify_in(None, NoticeKind::Info, text);
    }

    /// Where the statement was saved, or why it was not, shown in the wallet.
    fn on_exported(&mut self, outcome: Result<String, String>) {
        if let Some(wallet) = self.wallet.as_mut() {
            wallet.note = Some(match outcome {
                Ok(path) => format!("saved {}", crate::untrusted::inert_line(&path)),
                Err(error) => crate::untrusted::inert_line(&error),
            });
        }
    }

    /// Someone else has read `conversation_id` up to `up_to`: your messages there up to it
    /// show as read. Markers only move forward.
    fn note_read_by_others(&mut self, conversation_id: ConversationId, up_to: Option<MessageId>) {
        if up_to.is_none() {
            return;
        }
        let timeline = self.timelines.entry(conversation_id).or_default();
        timeline.read_by_others = timeline.read_by_others.max(up_to);
    }

    /// Adds or refreshes a conversation from the server's view of it.
    fn upsert(&mut self, conversation: &Conversation) {
        self.note_read_by_others(conversation.id, conversation.others_read_up_to);
        let mut fresh = ConversationEntry::from_protocol(conversation);
        // Once secret, always secret: the server cannot turn one back into a plain one.
        let was_secret = self
            .conversations
            .iter()
            .any(|e| e.id == conversation.id && e.secret);
        fresh.secret |= was_secret || self.known_secret.contains(&conversation.id);
        fresh.verified = fresh.secret && self.verified.contains(&fresh.name);
        match self.entry_mut(conversation.id) {
            Some(entry) => {
                let marked_read = entry.marked_read;
                *entry = ConversationEntry {
                    marked_read,
                    ..fresh
                };
            }
            None => self.conversations.push(fresh),
        }
        self.sort_conversations();
    }

    fn forget(&mut self, id: ConversationId, effects: &mut Vec<Effect>) {
        self.conversations.retain(|c| c.id != id);
        self.timelines.remove(&id);
        if self.selected == Some(id) {
            self.selected = None;
            if let Some(first) = self.conversations.first().map(|c| c.id) {
                self.select(first, effects);
            }
        }
    }

    fn entry_mut(&mut self, id: ConversationId) -> Option<&mut ConversationEntry> {
        self.conversations.iter_mut().find(|c| c.id == id)
    }
}
