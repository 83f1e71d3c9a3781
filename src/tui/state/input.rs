//! Keys and the mouse: actions from the keymap first, then text editing in the composer.

use super::Layer;
use super::commands::{self, Command};
use super::help::Help;
use super::{App, Effect, TYPING_SEND_EVERY, WHEEL_LINES, modal};
use crate::protocol::{ClientMsgId, MessageId};
use crate::tui::keymap::Action;
use crate::tui::layout;
use crate::tui::timeline::{Entry, QuoteView};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Position;
use ratatui_textarea::{TextArea, WrapMode};

/// What the composer is writing besides a new message.
#[derive(Debug, Clone, PartialEq)]
pub enum Draft {
    Reply(QuoteView),
    Edit(MessageId),
}

pub fn new_composer() -> TextArea<'static> {
    composer_with(TextArea::default())
}

/// A composer holding `text`, the cursor at its end.
pub(super) fn composer_holding(text: &str) -> TextArea<'static> {
    let lines = text.lines().map(str::to_owned).collect();
    let mut composer = composer_with(TextArea::new(lines));
    composer.move_cursor(ratatui_textarea::CursorMove::Bottom);
    composer.move_cursor(ratatui_textarea::CursorMove::End);
    composer
}

fn composer_with(mut composer: TextArea<'static>) -> TextArea<'static> {
    composer.set_placeholder_text("Write a message; /help for commands");
    composer.set_wrap_mode(WrapMode::WordOrGlyph);
    composer
}

impl App {
    /// A bracketed paste: line breaks kept in the composer, whatever the terminal ends lines
    /// with (tmux and most xterms send CR); a one-line field (the modal, search, the wallet's
    /// filter) takes the first line, as if typed.
    pub(super) fn on_paste(&mut self, text: &str, effects: &mut Vec<Effect>) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let one_line_field = matches!(
            self.layers().first(),
            Some(Layer::LogIn | Layer::Help | Layer::Modal | Layer::Wallet | Layer::Search)
        );
        if one_line_field {
            let first_line = text.lines().next().unwrap_or_default();
            for c in first_line.chars().filter(|c| !c.is_control()) {
                self.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), effects);
            }
            return;
        }
        self.composer.insert_str(text);
    }

    pub(super) fn on_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        for layer in self.layers() {
            // Help, the wallet and search take every key; the modal every key but one that
            // closes a receipt; selection and a picked card let the ones they do not use
            // through to the composer.
            let taken = match layer {
                Layer::LogIn => {
                    self.on_log_in_key(key, effects);
                    true
                }
                Layer::Help => {
                    self.on_help_key(key, effects);
                    true
                }
                Layer::Modal => self.on_modal_key(key, effects),
                Layer::Wallet => {
                    self.on_wallet_key(key, effects);
                    true
                }
                Layer::Search => {
                    self.on_search_key(key, effects);
                    true
                }
                Layer::Selection => self.on_selection_key(key, effects),
                Layer::Card => self.on_request_key(key, effects),
            };
            if taken {
                return;
            }
        }
        let composer_empty = self.composer.is_empty();
        if composer_empty
            && key.code == KeyCode::Char('?')
            && key.modifiers - KeyModifiers::SHIFT == KeyModifiers::NONE
        {
            self.help = Some(Help::default());
            return;
        }
        if composer_empty
            && key.code == KeyCode::Char('/')
            && key.modifiers - KeyModifiers::SHIFT == KeyModifiers::NONE
        {
            self.open_search(true);
            return;
        }
        match self.keymap.action_for(&key) {
            Some(Action::Recall) if !composer_empty && self.recall_position.is_none() => {
                self.edit(key, effects);
            }
            Some(action) => self.on_action(action, effects),
            None => self.edit(key, effects),
        }
    }

    pub(super) fn on_action(&mut self, action: Action, effects: &mut Vec<Effect>) {
        match action {
            Action::Quit => effects.push(Effect::Quit),
            Action::Help => self.help = Some(Help::default()),
            Action::Dismiss => self.dismiss(),
            Action::NextConversation => self.select_relative(1, effects),
            Action::PrevConversation => self.select_relative(-1, effects),
            Action::ScrollUp => self.scroll_up(self.page_lines(), effects),
            Action::ScrollDown => self.scroll_down(self.page_lines(), effects),
            Action::ScrollTop => self.scroll_up(usize::MAX / 2, effects),
            Action::ScrollBottom => self.scroll_down(usize::MAX, effects),
            Action::Send => self.submit(effects),
            Action::Newline => self.composer.insert_newline(),
            Action::Recall => self.recall_older(),
            Action::Pay => self.open_modal(modal::ModalKind::Pay),
            Action::RequestMoney => self.open_modal(modal::ModalKind::Request),
            Action::SelectRequest => self.complete_or_pick(),
            Action::Wallet => self.open_wallet(effects),
            Action::Topup => {
                self.composer = composer_holding("/topup ");
                self.info("type the amount to add, like 20 or 20 EUR, then Enter");
            }
            Action::Search => self.open_search(false),
            Action::SelectMessage => self.start_selecting(effects),
            // The other scopes' actions: `action_for` gives only the writing scope's.
            _ => {}
        }
    }

    /// Esc while writing: a reply or edit draft is dropped first, else the notice.
    fn dismiss(&mut self) {
        if !self.cancel_draft() {
            self.notice = None;
        }
    }

    /// Tab while writing: completes an @name being typed, else picks the next card.
    fn complete_or_pick(&mut self) {
        if !self.complete_mention() {
            self.select_next_request();
        }
    }

    /// Help is open: typing narrows it, the arrows and pages scroll, Esc or the help key
    /// closes it, and quit still quits.
    fn on_help_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        let action = self.keymap.action_for(&key);
        let screen = self.screen;
        let page = i32::from(screen.height.saturating_sub(4)).max(1);
        let Some(help) = self.help.as_mut() else {
            return;
        };
        match (action, key.code) {
            (Some(Action::Quit), _) => effects.push(Effect::Quit),
            (Some(Action::Help), _) | (_, KeyCode::Esc) => self.help = None,
            (_, KeyCode::Down) => help.scroll_by(1, &self.keymap, screen),
            (_, KeyCode::Up) => help.scroll_by(-1, &self.keymap, screen),
            (_, KeyCode::PageDown) => help.scroll_by(page, &self.keymap, screen),
            (_, KeyCode::PageUp) => help.scroll_by(-page, &self.keymap, screen),
            (_, KeyCode::Backspace) => {
                help.filter.pop();
                help.scroll = 0;
            }
            // As in the composer and every readline: Ctrl+U clears what was typed.
            (_, KeyCode::Char('u')) if key.modifiers.contains(KeyModifiers::CONTROL) => {
                help.filter.clear();
                help.scroll = 0;
            }
            (_, KeyCode::Char(c)) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                help.filter.push(c);
                help.scroll = 0;
            }
            _ => {}
        }
    }

    fn edit(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        if key.code == KeyCode::Down && self.recall_position.is_some() {
            self.recall_newer();
            return;
        }
        if self.readline_edit(key) || self.composer.input(key) {
            self.recall_position = None;
            self.maybe_send_typing(effects);
        }
    }

    /// Where the editor's defaults differ from readline, readline wins: Ctrl+U deletes to the
    /// start of the line (the editor would undo), and Ctrl+Z undoes instead.
    fn readline_edit(&mut self, key: KeyEvent) -> bool {
        if key.modifiers != KeyModifiers::CONTROL {
            return false;
        }
        match key.code {
            KeyCode::Char('u') => self.composer.delete_line_by_head(),
            KeyCode::Char('z') => self.composer.undo(),
            _ => false,
        }
    }

    fn maybe_send_typing(&mut self, effects: &mut Vec<Effect>) {
        let Some(id) = self.selected else { return };
        if self.composer.is_empty() || self.composer.lines()[0].starts_with('/') {
            return;
        }
        if self
            .last_typing_sent
            .is_none_or(|at| self.now.duration_since(at) >= TYPING_SEND_EVERY)
        {
            self.last_typing_sent = Some(self.now);
            effects.push(Effect::Typing(id));
        }
    }

    pub(super) fn on_mouse(&mut self, mouse: MouseEvent, effects: &mut Vec<Effect>) {
        let areas = self.areas();
        let at = Position::new(mouse.column, mouse.row);
        match mouse.kind {
            MouseEventKind::ScrollUp if areas.messages.contains(at) => {
                self.scroll_up(WHEEL_LINES, effects)
            }
            MouseEventKind::ScrollDown if areas.messages.contains(at) => {
                self.scroll_down(WHEEL_LINES, effects)
            }
            MouseEventKind::Down(MouseButton::Left) => {
                let Some(sidebar) = areas.sidebar.filter(|s| s.contains(at)) else {
                    return;
                };
                // Row 0 of the sidebar is its title; conversations follow, one per row.
                let index = usize::from(mouse.row.saturating_sub(sidebar.y + 1));
                if let Some(id) = self.conversations.get(index).map(|c| c.id) {
                    self.select(id, effects);
                }
            }
            _ => {}
        }
    }

    pub(crate) fn areas(&self) -> layout::Areas {
        layout::areas(
            self.screen,
            self.composer.lines().len(),
            self.visible_notice().is_some(),
        )
    }

    pub(super) fn page_lines(&self) -> usize {
        usize::from(self.areas().messages.height.saturating_sub(1)).max(1)
    }

    fn select_relative(&mut self, step: isize, effects: &mut Vec<Effect>) {
        if self.conversations.is_empty() {
            return;
        }
        let count = self.conversations.len() as isize;
        let current = self
            .selected
            .and_then(|id| self.conversations.iter().position(|c| c.id == id))
            .map_or(-1, |i| i as isize);
        let next = (current + step).rem_euclid(count) as usize;
        let id = self.conversations[next].id;
        self.select(id, effects);
    }

    pub(super) fn scroll_up(&mut self, lines: usize, effects: &mut Vec<Effect>) {
        let page = self.page_lines();
        let Some(id) = self.selected else { return };
        let Some(timeline) = self.timelines.get(&id) else {
            return;
        };
        let wanted = timeline.scroll.saturating_add(lines);
        // Counting stops at what the wanted position needs: the cost follows the scroll, not the history.
        let available = self.pane(timeline).count_lines(wanted.saturating_add(page));
        let Some(timeline) = self.timelines.get_mut(&id) else {
            return;
        };
        let top = available.saturating_sub(page);
        timeline.scroll = wanted.min(top);
        if wanted >= top && timeline.has_more_before && !timeline.loading {
            timeline.loading = true;
            effects.push(Effect::LoadHistory {
                conversation_id: id,
                before: timeline.first_id(),
            });
        }
    }

    fn scroll_down(&mut self, lines: usize, effects: &mut Vec<Effect>) {
        if let Some(timeline) = self.selected.and_then(|id| self.timelines.get_mut(&id)) {
            timeline.scroll = timeline.scroll.saturating_sub(lines);
            if timeline.scroll == 0 {
                timeline.unseen_below = 0;
            }
        }
        self.mark_read_if_visible(effects);
    }

    /// The message pane's view of `timeline`, as drawn now.
    pub(crate) fn pane<'a>(
        &'a self,
        timeline: &'a crate::tui::timeline::Timeline,
    ) -> crate::tui::layout::pane::Pane<'a> {
        crate::tui::layout::pane::Pane {
            timeline,
            width: usize::from(self.areas().messages.width),
            utc_offset_secs: self.utc_offset_secs,
            me: self.my_name(),
            picked: self.picked,
            focus: self.focus.map(|(_, message)| message),
            card_keys: crate::tui::layout::cards::CardKeys::from(&self.keymap),
        }
    }

    fn submit(&mut self, effects: &mut Vec<Effect>) {
        let text = self.composer.lines().join("\n");
        if text.trim().is_empty() {
            return;
        }
        if text.starts_with('/') && !text.starts_with("//") {
            match commands::parse(text.trim()) {
                Ok(command) => {
                    self.run_command(command, effects);
                    self.remember_sent(&text);
                    self.composer = new_composer();
                }
                Err(error) => self.error(error),
            }
            return;
        }
        // "//text" sends "/text".
        let body = text
            .strip_prefix('/')
            .filter(|t| t.starts_with('/'))
            .unwrap_or(&text)
            .to_owned();
        if let Err(error) = crate::protocol::model::validate_text(&body) {
            self.error(error.message);
            return;
        }
        let Some(conversation_id) = self.selected else {
            self.error("no conversation selected: /dm USER starts one");
            return;
        };
        if let Some(other) = self
            .selected_entry()
            .filter(|entry| entry.secret)
            .map(|entry| entry.name.clone())
        {
            self.send_secret(conversation_id, other, &text, body, effects);
            return;
        }
        if let Some(Draft::Edit(message_id)) = self.draft {
            effects.push(Effect::EditMessage {
                message_id,
                text: body,
            });
            self.draft = None;
            self.composer = new_composer();
            self.notice = None;
            return;
        }
        let reply = match self.draft.take() {
            Some(Draft::Reply(quote)) => Some(quote),
            _ => None,
        };
        let client_id = ClientMsgId(self.ids.fresh());
        let entry = Entry::queued(client_id, self.my_name(), &body, reply.clone(), self.wall);
        let timeline = self.timelines.entry(conversation_id).or_default();
        timeline.add_queued(entry);
        timeline.scroll = 0;
        effects.push(Effect::Send {
            conversation_id,
            client_id,
            text: body,
            reply_to: reply.map(|quote| quote.id),
        });
        self.remember_sent(&text);
        self.composer = new_composer();
        self.notice = None;
    }

    /// Shows the message as queued and has it sealed and sent. Replies and edits travel in
    /// the clear on the server, so a secret conversation has neither yet.
    fn send_secret(
        &mut self,
        conversation_id: crate::protocol::ConversationId,
        other: String,
        typed: &str,
        text: String,
        effects: &mut Vec<Effect>,
    ) {
        if self.draft.is_some() {
            self.draft = None;
            self.error(
                "a secret conversation has no replies or edits yet: send it as a new message",
            );
            return;
        }
        let client_id = ClientMsgId(self.ids.fresh());
        self.queue_secret(conversation_id, other, (client_id, text), effects);
        self.remember_sent(typed);
        self.composer = new_composer();
        self.notice = None;
    }

    /// Shows `text` as queued in the secret conversation and has it sealed and sent as the
    /// message `client_id`.
    pub(super) fn queue_secret(
        &mut self,
        conversation_id: crate::protocol::ConversationId,
        other: String,
        (client_id, text): (ClientMsgId, String),
        effects: &mut Vec<Effect>,
    ) {
        let entry = Entry::queued(client_id, self.my_name(), &text, None, self.wall);
        let timeline = self.timelines.entry(conversation_id).or_default();
        timeline.add_queued(entry);
        timeline.scroll = 0;
        effects.push(Effect::SendSecret {
            conversation_id,
            client_id,
            other,
            text,
        });
    }

    fn run_command(&mut self, command: Command, effects: &mut Vec<Effect>) {
        match command {
            Command::Dm(user) => effects.push(Effect::OpenDirect(user)),
            Command::Secret(user) => effects.push(Effect::OpenSecret(user)),
            Command::Verify(answer) => self.verify_command(answer, effects),
            Command::Timer(seconds) => match self.selected_entry() {
                Some(entry) if entry.secret => effects.push(Effect::SetTimer {
                    conversation_id: entry.id,
                    other: entry.name.clone(),
                    seconds,
                }),
                _ => self.error("/timer works in a secret conversation; this is not one"),
            },
            Command::CopyLink => self.copy_checkout_link(effects),
            Command::AcceptKeys => match self.selected_entry() {
                Some(entry) if entry.secret => effects.push(Effect::AcceptKeys(entry.name.clone())),
                _ => self.error("/accept-keys works in a secret conversation; this is not one"),
            },
            Command::Group { name, members } => effects.push(Effect::CreateGroup { name, members }),
            Command::Mute => match self.selected_entry() {
                Some(entry) => {
                    let muted = !entry.muted;
                    let label = entry.label();
                    effects.push(Effect::Mute {
                        conversation_id: entry.id,
                        muted,
                    });
                    let done = if muted { "muted" } else { "unmuted" };
                    self.info(format!("{done} {label}"));
                }
                None => self.error("no conversation selected"),
            },
            Command::Leave => match self.selected_entry() {
                Some(entry) if entry.kind == crate::protocol::ConversationKind::Group => {
                    effects.push(Effect::Leave(entry.id));
                }
                _ => self.error("/leave works in a group; this is not one"),
            },
            Command::Help => self.help = Some(Help::default()),
            Command::Quit => effects.push(Effect::Quit),
            Command::Pay => self.open_modal(modal::ModalKind::Pay),
            Command::Request => self.open_modal(modal::ModalKind::Request),
            Command::Split { amount, memo } => self.split(&amount, memo),
            Command::Wallet => self.open_wallet(effects),
            Command::LogIn => self.reopen_log_in(),
            Command::Topup(amount) => self.topup(&amount, effects),
            Command::Withdraw { amount, account } => self.withdraw(&amount, account),
            Command::Attach { path, caption } => self.attach(path, caption, effects),
        }
    }

    /// Sends a file here: not in a secret conversation, whose server must not see it.
    fn attach(&mut self, path: String, caption: String, effects: &mut Vec<Effect>) {
        match self.selected_entry() {
            Some(entry) if entry.secret => {
                self.error("files cannot go in a secret conversation yet");
            }
            Some(entry) => {
                let conversation_id = entry.id;
                self.info(format!("sending {}…", crate::untrusted::inert_line(&path)));
                effects.push(Effect::SendFile {
                    conversation_id,
                    path,
                    caption,
                });
            }
            None => self.error("no conversation selected"),
        }
    }

    fn recall_older(&mut self) {
        if self.recall.is_empty() {
            return;
        }
        let position = match self.recall_position {
            None => self.recall.len() - 1,
            Some(p) => p.saturating_sub(1),
        };
        self.show_recalled(position);
    }

    fn recall_newer(&mut self) {
        match self.recall_position {
            Some(p) if p + 1 < self.recall.len() => self.show_recalled(p + 1),
            _ => {
                self.composer = new_composer();
                self.recall_position = None;
            }
        }
    }

    fn show_recalled(&mut self, position: usize) {
        self.composer = composer_holding(&self.recall[position]);
        self.recall_position = Some(position);
        self.notice = None;
    }
}

impl App {
    /// Tab after `@na` in the composer: completes the name from the conversation's members
    /// (as far as they agree, as a shell does). False: the cursor is not after an `@name`.
    fn complete_mention(&mut self) -> bool {
        let ratatui_textarea::DataCursor(row, column) = self.composer.cursor();
        let Some(line) = self.composer.lines().get(row) else {
            return false;
        };
        let before: String = line.chars().take(column).collect();
        let word = before
            .rsplit(char::is_whitespace)
            .next()
            .unwrap_or_default();
        let Some(prefix) = word.strip_prefix('@') else {
            return false;
        };
        let me = self.my_name().to_owned();
        let names: Vec<String> = self
            .selected_entry()
            .map(|entry| entry.members.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|name| name.starts_with(prefix) && *name != me)
            .collect();
        let Some(first) = names.first() else {
            self.info(format!("no member here starts with @{prefix}"));
            return true;
        };
        let common = names.iter().fold(first.clone(), |common, name| {
            common
                .chars()
                .zip(name.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect()
        });
        let mut rest = common[prefix.len()..].to_owned();
        if names.len() == 1 {
            rest.push(' ');
        } else if rest.is_empty() {
            let listed: Vec<String> = names.iter().map(|n| format!("@{n}")).collect();
            self.info(listed.join("  "));
        }
        self.composer.insert_str(rest);
        true
    }
}
