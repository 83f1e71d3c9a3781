//! Acting on one message: selection mode (the selection key, or a jump from search) moves
//! over the messages with k / j or the arrows; `r` replies, `e` edits, `d` deletes (asking
//! first), `+` reacts, `y` copies the text, Enter on a reply goes to the message it answers,
//! Esc goes back to the composer. Replies and edits are written in the composer (a draft).

use super::input::{Draft, new_composer};
use super::{App, Effect};
use crate::protocol::{ConversationId, MessageId};
use crate::tui::keymap::{Action, Scope};
use crate::tui::timeline::Entry;
use crossterm::event::{KeyCode, KeyEvent};

/// The reactions `+` offers, on keys 1 to 6.
pub const REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "🎉"];

/// Where selection mode is in a multi-key action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// `+` was pressed: a digit picks the reaction.
    React,
    /// `d` was pressed once: `d` again deletes.
    Delete,
}

impl App {
    /// Enters selection mode on the newest message of the open conversation.
    pub(super) fn start_selecting(&mut self, effects: &mut Vec<Effect>) {
        let Some(conversation_id) = self.selected else {
            return;
        };
        let Some(newest) = self
            .timelines
            .get(&conversation_id)
            .and_then(|t| t.last_id())
        else {
            self.info("no message here to select");
            return;
        };
        self.focus = Some((conversation_id, newest));
        self.selecting = true;
        self.info("r reply · e edit · d delete · + react · y copy · k/j · Esc");
        self.bring_focus_into_view(effects);
    }

    pub(super) fn stop_selecting(&mut self) {
        self.selecting = false;
        self.pending = None;
        self.focus = None;
        self.found = None;
        self.notice = None;
    }

    /// Keys in selection mode. False: not a selection key (selection ends and the key does
    /// what it does in the composer).
    pub(super) fn on_selection_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) -> bool {
        let Some((conversation_id, id)) = self.focus else {
            self.selecting = false;
            return false;
        };
        let action = self.keymap.action_in(Scope::Selection, &key);
        if let Some(pending) = self.pending.take() {
            self.notice = None;
            match (pending, key.code) {
                (Pending::React, KeyCode::Char(c @ '1'..='6')) => {
                    self.react(
                        conversation_id,
                        id,
                        REACTIONS[c as usize - '1' as usize],
                        effects,
                    );
                }
                (Pending::Delete, _) if action == Some(Action::Delete) => {
                    effects.push(Effect::DeleteMessage(id));
                }
                _ => {} // anything else keeps the message as it is
            }
            return true;
        }
        let Some(entry) = self
            .timelines
            .get(&conversation_id)
            .and_then(|t| t.find(id))
            .cloned()
        else {
            self.stop_selecting();
            return false;
        };
        match action {
            Some(Action::Older) => self.move_selection(conversation_id, id, -1, effects),
            Some(Action::Newer) => self.move_selection(conversation_id, id, 1, effects),
            Some(Action::NextFound) if self.found.is_some() => self.step_found(1, effects),
            Some(Action::PreviousFound) if self.found.is_some() => self.step_found(-1, effects),
            Some(Action::Reply) => self.reply_to(&entry),
            Some(Action::Edit) => self.edit_entry(&entry),
            Some(Action::Delete) => self.ask_delete(&entry),
            Some(Action::React) => self.ask_reaction(&entry),
            Some(Action::Copy) => self.copy(&entry, effects),
            Some(Action::ToOriginal) if entry.file.is_some() => {
                self.save_file(&entry, false, effects)
            }
            Some(Action::OpenFile) if entry.file.is_some() => self.save_file(&entry, true, effects),
            Some(Action::ToOriginal) => self.follow_quote(conversation_id, &entry, effects),
            Some(Action::EndSelection) => self.stop_selecting(),
            _ => {
                self.stop_selecting();
                return false;
            }
        }
        true
    }

    fn move_selection(
        &mut self,
        conversation_id: ConversationId,
        id: MessageId,
        step: isize,
        effects: &mut Vec<Effect>,
    ) {
        let Some(timeline) = self.timelines.get(&conversation_id) else {
            return;
        };
        match timeline.neighbour(id, step) {
            Some(next) => {
                self.focus = Some((conversation_id, next));
                self.bring_focus_into_view(effects);
            }
            // Past the newest: back to writing.
            None if step > 0 => self.stop_selecting(),
            None => self.scroll_up(self.page_lines(), effects),
        }
    }

    fn reply_to(&mut self, entry: &Entry) {
        let Some(quote) = entry.quote().filter(|_| !entry.deleted) else {
            self.error("a deleted message cannot be answered");
            return;
        };
        self.stop_selecting();
        self.draft = Some(Draft::Reply(quote));
    }

    fn edit_entry(&mut self, entry: &Entry) {
        let refusal = if !entry.mine {
            Some("you can edit only your own messages")
        } else if entry.card.is_some() {
            Some("payment, request and invoice cards cannot be edited")
        } else if entry.deleted {
            Some("this message was deleted")
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.error(refusal);
            return;
        }
        let Some(id) = entry.id else { return };
        self.stop_selecting();
        self.composer = new_composer();
        self.composer.insert_str(&entry.text);
        self.draft = Some(Draft::Edit(id));
    }

    fn ask_delete(&mut self, entry: &Entry) {
        let refusal = if !entry.mine {
            Some("you can delete only your own messages")
        } else if entry.card.is_some() {
            Some("payment, request and invoice cards cannot be deleted")
        } else if entry.deleted {
            Some("this message is already deleted")
        } else {
            None
        };
        match refusal {
            Some(refusal) => self.error(refusal),
            None => {
                self.pending = Some(Pending::Delete);
                self.info("delete this message for everyone? d deletes, any other key keeps it");
            }
        }
    }

    fn ask_reaction(&mut self, entry: &Entry) {
        if entry.deleted {
            self.error("a deleted message takes no reaction");
            return;
        }
        let choices: Vec<String> = REACTIONS
            .iter()
            .enumerate()
            .map(|(n, emoji)| format!("{} {emoji}", n + 1))
            .collect();
        self.pending = Some(Pending::React);
        self.info(format!(
            "react: {} · yours again takes it back",
            choices.join("  ")
        ));
    }

    /// Adds `emoji`, or takes it back when it is already one of ours.
    fn react(
        &mut self,
        conversation_id: ConversationId,
        id: MessageId,
        emoji: &str,
        effects: &mut Vec<Effect>,
    ) {
        let me = self.my_name().to_owned();
        let ours = self
            .timelines
            .get(&conversation_id)
            .and_then(|t| t.find(id))
            .is_some_and(|entry| {
                entry
                    .reactions
                    .iter()
                    .any(|(e, users)| e == emoji && users.contains(&me))
            });
        effects.push(Effect::React {
            message_id: id,
            emoji: emoji.to_owned(),
            remove: ours,
        });
    }

    fn copy(&mut self, entry: &Entry, effects: &mut Vec<Effect>) {
        if entry.deleted || entry.text.is_empty() {
            self.error("nothing to copy");
            return;
        }
        // The entry's text is inert already: no control sequence reaches the clipboard.
        effects.push(Effect::Copy(entry.text.clone()));
        self.info("copied to the clipboard");
    }

    /// Enter (or `o`, to open it too) on a file: saved to the download folder.
    fn save_file(&mut self, entry: &Entry, open: bool, effects: &mut Vec<Effect>) {
        if let Some(file) = &entry.file {
            self.info(format!(
                "saving {}…",
                crate::untrusted::inert_line(&file.name)
            ));
            effects.push(Effect::SaveFile {
                file: file.clone(),
                open,
            });
        }
    }

    /// Enter on a reply: to the message it answers (its history loaded if need be).
    fn follow_quote(
        &mut self,
        conversation_id: ConversationId,
        entry: &Entry,
        effects: &mut Vec<Effect>,
    ) {
        let Some(quote) = &entry.reply else {
            return;
        };
        self.focus = Some((conversation_id, quote.id));
        self.bring_focus_into_view(effects);
    }

    /// Drops a reply or an edit being written.
    pub(super) fn cancel_draft(&mut self) -> bool {
        let had = self.draft.take().is_some();
        if had {
            self.composer = new_composer();
        }
        had
    }
}
