//! The one way out of the command line: every line a command prints, every prompt and every
//! error goes through here and is made inert (`untrusted::inert`, the TUI's rules), so no text
//! from the network (a message, a username, a server's or a partner's error, a checkout
//! address) can drive the terminal: no title set, no clipboard written, no screen cleared.
//! The only escapes quid writes itself are the search highlights, added here around text
//! already made inert.

use super::StdoutFailed;
use crate::untrusted::inert;
use std::io::Write;

/// A piece of a line, highlighted (a search match) or not.
pub struct Piece {
    pub text: String,
    pub marked: bool,
}

/// Prints one line (it may hold newlines of its own), inert.
pub fn line(args: std::fmt::Arguments) -> Result<(), StdoutFailed> {
    writeln!(std::io::stdout(), "{}", inert(&args.to_string())).map_err(StdoutFailed)
}

/// Prints `pieces` as one line, each inert, the marked ones in bold and underlined when
/// `styled` (stdout is a terminal).
pub fn marked_line(pieces: &[Piece], styled: bool) -> Result<(), StdoutFailed> {
    writeln!(std::io::stdout(), "{}", render(pieces, styled)).map_err(StdoutFailed)
}

fn render(pieces: &[Piece], styled: bool) -> String {
    let mut out = String::new();
    for piece in pieces {
        let text = inert(&piece.text);
        match piece.marked && styled {
            true => out.push_str(&format!("\x1b[1;4m{text}\x1b[0m")),
            false => out.push_str(&text),
        }
    }
    out
}

/// Asks `question` on stdout, inert, leaving the cursor after it.
pub fn prompt(question: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    write!(out, "{} ", inert(question))?;
    out.flush()
}

/// How a failed command's error is shown on stderr: its whole chain, inert.
pub fn error_line(error: &anyhow::Error) -> String {
    inert(&format!("quid: {}", without_repeats(error)))
}

/// The error and its causes, `: ` between them, leaving out a cause whose words are already
/// in what came before (an error that says its source, and also hands it on as its cause).
fn without_repeats(error: &anyhow::Error) -> String {
    let mut said = String::new();
    for cause in error.chain() {
        let words = cause.to_string();
        if said.contains(&words) {
            continue;
        }
        if !said.is_empty() {
            said.push_str(": ");
        }
        said.push_str(&words);
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_quids_own_highlights_reach_the_terminal_as_escapes() {
        let pieces = [
            Piece {
                text: "\x1b]0;title\x07 lunch ".into(),
                marked: false,
            },
            Piece {
                text: "ne\x1b[2Jxt".into(),
                marked: true,
            },
        ];
        let shown = render(&pieces, true);
        assert_eq!(shown, "␛]0;title␇ lunch \x1b[1;4mne␛[2Jxt\x1b[0m");
        assert_eq!(render(&pieces, false), "␛]0;title␇ lunch ne␛[2Jxt");
    }

    #[test]
    fn a_cause_already_said_is_not_said_again() {
        #[derive(Debug, thiserror::Error)]
        #[error("database x: {0}")]
        struct Outer(#[source] std::io::Error);
        let inner = std::io::Error::other("role \"quid\" does not exist");
        let error = anyhow::Error::new(Outer(inner)).context("cannot start");
        assert_eq!(
            error_line(&error),
            "quid: cannot start: database x: role \"quid\" does not exist"
        );
    }

    #[test]
    fn an_error_from_the_server_is_shown_inert() {
        let error = anyhow::anyhow!("refused: \x1b]52;c;cHduZWQ=\x07\u{9b}2J");
        let shown = error_line(&error);
        assert!(!shown.contains(['\x1b', '\x07', '\u{9b}']), "{shown:?}");
        assert!(shown.starts_with("quid: refused: ␛]52;c;"), "{shown}");
    }
}
