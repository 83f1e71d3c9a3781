//! Text that came from outside the process (message text, names, server errors) is made inert
//! here, once, where it enters a client's state, so nothing a peer writes can drive the
//! terminal: no escape sequences, no control characters, no bidi overrides.

/// Returns `text` with every character that could change the terminal's state, or reorder what
/// is shown, replaced by a visible stand-in. Newlines are kept (messages have lines);
/// tabs become spaces.
pub fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push_str("    "),
            // C0 controls (ESC among them) as their Unicode "control pictures": ␛ ␇ ␍ ...
            '\0'..='\x1f' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\x7f' => out.push('\u{2421}'),
            c if is_c1_or_bidi(c) => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

/// C1 controls (CSI, OSC, ST as single bytes) and bidi embeddings, overrides and isolates,
/// which would let a sender make text read backwards.
fn is_c1_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{80}'..='\u{9f}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061c}'
    )
}

/// `value` as pretty JSON with DEL, C1 controls and bidi controls escaped (`\u202e`) as well as
/// the C0 ones JSON escapes anyway, so that `quid ... --json` is safe on a terminal and
/// through `jq`. They can only stand inside strings, where the escape means the same.
pub fn json(value: &impl serde::Serialize) -> serde_json::Result<String> {
    let text = serde_json::to_string_pretty(value)?;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c == '\u{7f}' || is_c1_or_bidi(c) {
            true => out.push_str(&format!("\\u{:04x}", c as u32)),
            false => out.push(c),
        }
    }
    Ok(out)
}

/// `inert`, and on one line: for names, titles and notifications.
pub fn inert_line(text: &str) -> String {
    inert(text).replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_osc_and_bidi_become_visible_and_harmless() {
        let hostile = "a\u{1b}[2J\u{1b}]0;pwned\u{7}b\u{9b}31m\u{202e}txet\u{2066}\r\nline two\tx";
        let clean = inert(hostile);
        assert!(
            clean.chars().all(|c| c == '\n' || !c.is_control()),
            "{clean:?}"
        );
        for forbidden in [
            '\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}', '\r', '\t',
        ] {
            assert!(
                !clean.contains(forbidden),
                "{forbidden:?} survived in {clean:?}"
            );
        }
        assert!(clean.starts_with("a␛[2J␛]0;pwned␇b"), "{clean:?}");
        assert!(clean.ends_with("\nline two    x"), "{clean:?}");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let text = "héllo 世界 👋🏽 e\u{301}\nbye";
        assert_eq!(inert(text), text);
        assert_eq!(inert_line(text), "héllo 世界 👋🏽 e\u{301} bye");
    }

    #[test]
    fn json_output_escapes_what_a_terminal_would_act_on_and_means_the_same() {
        let hostile = "evil\u{202e}txt.exe \u{9b}31m \x1b[2J \u{7f}";
        let shown = json(&serde_json::json!({ "name": hostile })).unwrap();
        assert!(
            shown.contains("\\u202e") && shown.contains("\\u009b"),
            "{shown}"
        );
        assert!(
            shown.contains("\\u001b") && shown.contains("\\u007f"),
            "{shown}"
        );
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown:?}"
        );
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["name"], hostile);
    }
}
