//! A key as a profile writes it and the help shows it: `ctrl-n`, `alt-enter`, `pageup`, `?`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::fmt;

/// One key with its modifiers, as written in config: `ctrl-n`, `alt-enter`, `pageup`, `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    code: KeyCode,
    modifiers: KeyModifiers,
}

impl Key {
    pub fn parse(spec: &str) -> Result<Key, String> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = spec;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                modifiers |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                modifiers |= KeyModifiers::ALT;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("shift-") {
                modifiers |= KeyModifiers::SHIFT;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backspace" => KeyCode::Backspace,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            f if f.starts_with('f') && f.len() > 1 => match f[1..].parse::<u8>() {
                Ok(n @ 1..=12) => KeyCode::F(n),
                _ => return Err(format!("{spec:?} is not a key")),
            },
            single if single.chars().count() == 1 => {
                KeyCode::Char(single.chars().next().unwrap_or(' '))
            }
            _ => {
                return Err(format!(
                    "{spec:?} is not a key; write e.g. \"ctrl-n\", \"alt-enter\", \"pageup\", \"f1\""
                ));
            }
        };
        Ok(Key { code, modifiers })
    }

    pub(super) fn matches(&self, event: &KeyEvent) -> bool {
        // A lower-case key answers both cases (Ctrl+N arrives as 'N' with some terminals); an
        // upper-case one only its own.
        let code = match (event.code, self.code) {
            (KeyCode::Char(c), KeyCode::Char(bound)) if bound.is_ascii_lowercase() => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            (other, _) => other,
        };
        // Shift is part of the character itself for printable keys ('?' is shift-/).
        let relevant = KeyModifiers::CONTROL | KeyModifiers::ALT;
        let wanted = if matches!(self.code, KeyCode::Char(_)) {
            self.modifiers & relevant
        } else {
            self.modifiers
        };
        let got = if matches!(code, KeyCode::Char(_)) {
            event.modifiers & relevant
        } else {
            event.modifiers & (relevant | KeyModifiers::SHIFT)
        };
        code == self.code && got == wanted
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl+")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("Alt+")?;
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            f.write_str("Shift+")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) if c.is_ascii_uppercase() => write!(f, "Shift+{c}"),
            // A letter alone is the key as typed (k, r, e, as the README writes them); with
            // Ctrl or Alt, a capital, as menus write them (Ctrl+S).
            KeyCode::Char(c) if self.modifiers.is_empty() => write!(f, "{c}"),
            KeyCode::Char(c) => write!(f, "{}", c.to_ascii_uppercase()),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            other => write!(f, "{other:?}"),
        }
    }
}
