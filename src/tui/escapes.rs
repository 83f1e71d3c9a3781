//! Puts back together a key that crossterm splits when Esc comes just before it.
//!
//! Esc then F2 in one read is `ESC ESC O Q`; crossterm 0.29 takes `ESC ESC` for Esc and then
//! reads `O` and `Q` as typed letters (crossterm-rs/crossterm#1124, open), which land in the
//! composer. A person cannot type Esc, `O`, `Q` within a few milliseconds, so letters that
//! arrive that close after an Esc and spell the rest of an SS3 (`O Q`) or CSI (`[ 1 5 ~`) key
//! are turned back into that key. Anything else is handed on unchanged, in order.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::{Duration, Instant};

/// Keys of one terminal read reach us well within this of each other; a person's do not.
const SAME_READ: Duration = Duration::from_millis(5);
/// Longest CSI key remainder (`[1;5~` and the like are far shorter).
const MAX_HELD: usize = 8;

#[derive(Debug, Default)]
pub struct EscapeRepair {
    /// The letters held since the Esc, while they may still be the rest of a key.
    held: Vec<KeyEvent>,
    /// When the last Esc or held letter came, while a key may still be being spelled.
    last: Option<Instant>,
}

enum Spelled {
    Key(KeyEvent),
    SoFar,
    Not,
}

impl EscapeRepair {
    /// The keys to hand on for `key`, arrived at `now`: none while a sequence may be under way.
    pub fn push(&mut self, key: KeyEvent, now: Instant) -> Vec<KeyEvent> {
        let in_sequence = self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) <= SAME_READ);
        if key.code == KeyCode::Esc && key.modifiers.is_empty() {
            let mut out = self.flush();
            out.push(key);
            self.last = Some(now);
            return out;
        }
        let letter = matches!(key.code, KeyCode::Char(_))
            && (key.modifiers - KeyModifiers::SHIFT).is_empty();
        if !letter || !in_sequence {
            let mut out = self.flush();
            out.push(key);
            return out;
        }
        self.held.push(key);
        let text: String = self.held.iter().filter_map(letter_of).collect();
        match spell(&text) {
            Spelled::Key(whole) => {
                self.held.clear();
                self.last = None;
                vec![whole]
            }
            Spelled::SoFar if self.held.len() < MAX_HELD => {
                self.last = Some(now);
                Vec::new()
            }
            Spelled::SoFar | Spelled::Not => self.flush(),
        }
    }

    /// Hands on whatever is held, as typed (on a tick, or anything that is not a key).
    pub fn flush(&mut self) -> Vec<KeyEvent> {
        self.last = None;
        std::mem::take(&mut self.held)
    }
}

fn letter_of(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c) => Some(c),
        _ => None,
    }
}

/// What `text` (the letters after an Esc) spells: a whole key, the start of one, or neither.
fn spell(text: &str) -> Spelled {
    let plain = |code| Spelled::Key(KeyEvent::new(code, KeyModifiers::NONE));
    if let Some(rest) = text.strip_prefix('O') {
        let mut chars = rest.chars();
        return match (chars.next(), chars.next()) {
            (None, _) => Spelled::SoFar,
            (Some(c), None) => cursor_key(c)
                .or_else(|| matches!(c, 'P'..='S').then(|| KeyCode::F(1 + c as u8 - b'P')))
                .map_or(Spelled::Not, plain),
            _ => Spelled::Not,
        };
    }
    let Some(rest) = text.strip_prefix('[') else {
        return Spelled::Not;
    };
    let Some(last) = rest.chars().last() else {
        return Spelled::SoFar;
    };
    if last.is_ascii_digit() || last == ';' {
        return Spelled::SoFar;
    }
    let params: Vec<&str> = rest[..rest.len() - 1].split(';').collect();
    let modifiers = match params.get(1) {
        Some(m) => match m.parse::<u8>() {
            Ok(m @ 1..=16) => modifiers_of(m),
            _ => return Spelled::Not,
        },
        None => KeyModifiers::NONE,
    };
    let code = match (last, params[0]) {
        ('~', number) => number.parse().ok().and_then(tilde_key),
        ('Z', "") => Some(KeyCode::BackTab),
        (c, "" | "1") => cursor_key(c),
        _ => None,
    };
    code.map_or(Spelled::Not, |code| {
        Spelled::Key(KeyEvent::new(code, modifiers))
    })
}

fn cursor_key(c: char) -> Option<KeyCode> {
    Some(match c {
        'A' => KeyCode::Up,
        'B' => KeyCode::Down,
        'C' => KeyCode::Right,
        'D' => KeyCode::Left,
        'H' => KeyCode::Home,
        'F' => KeyCode::End,
        _ => return None,
    })
}

/// `CSI n ~` keys, as xterm numbers them.
fn tilde_key(number: u8) -> Option<KeyCode> {
    Some(match number {
        1 | 7 => KeyCode::Home,
        2 => KeyCode::Insert,
        3 => KeyCode::Delete,
        4 | 8 => KeyCode::End,
        5 => KeyCode::PageUp,
        6 => KeyCode::PageDown,
        11..=15 => KeyCode::F(number - 10),
        17..=21 => KeyCode::F(number - 11),
        23 | 24 => KeyCode::F(number - 12),
        _ => return None,
    })
}

/// xterm's modifier parameter: 1 + shift (1) + alt (2) + ctrl (4).
fn modifiers_of(parameter: u8) -> KeyModifiers {
    let bits = parameter - 1;
    let mut modifiers = KeyModifiers::NONE;
    for (bit, modifier) in [
        (1, KeyModifiers::SHIFT),
        (2, KeyModifiers::ALT),
        (4, KeyModifiers::CONTROL),
    ] {
        if bits & bit != 0 {
            modifiers |= modifier;
        }
    }
    modifiers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn char_key(c: char) -> KeyEvent {
        let shift = if c.is_uppercase() {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        KeyEvent::new(KeyCode::Char(c), shift)
    }

    fn esc() -> KeyEvent {
        KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)
    }

    /// What crossterm hands on for Esc and then `rest` typed `apart` from each other.
    fn through(rest: &str, apart: Duration) -> Vec<KeyEvent> {
        let mut repair = EscapeRepair::default();
        let start = Instant::now();
        let mut out = repair.push(esc(), start);
        for (i, c) in rest.chars().enumerate() {
            out.extend(repair.push(char_key(c), start + apart * (i as u32 + 1)));
        }
        out.extend(repair.flush());
        out
    }

    #[test]
    fn esc_then_a_function_key_in_one_read_is_esc_and_that_key() {
        let same_read = Duration::from_micros(50);
        let plain = |code| KeyEvent::new(code, KeyModifiers::NONE);
        assert_eq!(through("OQ", same_read), [esc(), plain(KeyCode::F(2))]);
        assert_eq!(through("[15~", same_read), [esc(), plain(KeyCode::F(5))]);
        assert_eq!(through("[24~", same_read), [esc(), plain(KeyCode::F(12))]);
        assert_eq!(through("OA", same_read), [esc(), plain(KeyCode::Up)]);
        assert_eq!(
            through("[1;5C", same_read),
            [esc(), KeyEvent::new(KeyCode::Right, KeyModifiers::CONTROL)]
        );
    }

    #[test]
    fn letters_a_person_types_after_esc_are_letters() {
        let typed = Duration::from_millis(80);
        assert_eq!(through("OQ", typed), [esc(), char_key('O'), char_key('Q')]);
        let same_read = Duration::from_micros(50);
        assert_eq!(
            through("Ok", same_read),
            [esc(), char_key('O'), char_key('k')],
            "not a key: handed on as it came"
        );
        assert_eq!(
            through("[x", same_read),
            [esc(), char_key('['), char_key('x')]
        );
        assert_eq!(
            through("[1111111111", same_read).len(),
            12,
            "a run of digits is not held for ever"
        );
    }

    #[test]
    fn without_an_esc_nothing_is_held() {
        let mut repair = EscapeRepair::default();
        let now = Instant::now();
        assert_eq!(repair.push(char_key('O'), now), [char_key('O')]);
        assert_eq!(repair.push(char_key('Q'), now), [char_key('Q')]);
    }
}
