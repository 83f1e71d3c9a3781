//! Full-text search over messages, the part both backends share: how text is cut into
//! words, the query language users type, and where a query matches a message's text.
//!
//! Both backends index the words this module cuts (`indexed_words`), not their own parsers'
//! tokens, so that a query finds the same messages on SQLite and on PostgreSQL and the
//! highlights the server returns mark exactly what matched.

mod highlight;
mod query;
mod rank;

pub use highlight::highlights;
pub use query::{MAX_QUERY_CHARS, Query, QueryError, Term};
pub use rank::rank;

use std::ops::Range;

/// One word of a text: where it is, and its folded form (what the index holds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub range: Range<usize>,
    pub folded: String,
}

/// The words of `text`: runs of letters, digits and combining marks, folded to lower case.
/// Everything else (spaces, punctuation, emoji) separates words and is not searchable.
pub fn words(text: &str) -> impl Iterator<Item = Word> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = chars.find(|(_, c)| is_word_char(*c))?;
        let mut end = text.len();
        while let Some(&(at, c)) = chars.peek() {
            if !is_word_char(c) {
                end = at;
                break;
            }
            chars.next();
        }
        Some(Word {
            range: start..end,
            folded: text[start..end].to_lowercase(),
        })
    })
}

/// Longest word the index keeps, in bytes (PostgreSQL refuses lexemes over 2 KiB); no query
/// word is this long (`MAX_QUERY_CHARS`).
const MAX_INDEXED_WORD_BYTES: usize = 1024;

/// The folded words of `text` that the index keeps, in order.
pub fn indexed_words(text: &str) -> impl Iterator<Item = String> + '_ {
    words(text)
        .map(|word| word.folded)
        .filter(|word| word.len() <= MAX_INDEXED_WORD_BYTES)
}

/// What SQLite's index stores for `text`: its indexed words, one space between each, for a
/// tokenizer that splits on spaces and nothing else.
pub fn index_words(text: &str) -> String {
    indexed_words(text).collect::<Vec<_>>().join(" ")
}

pub(super) fn is_word_char(c: char) -> bool {
    // Marks belong to the letter they carry (Devanagari viramas, Thai tones, decomposed
    // accents): splitting on them would cut the words of those scripts apart.
    c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_runs_of_letters_and_digits() {
        let found: Vec<_> = words("Don't PANIC: café at 10:30, naïve—Ünïcode 👍🏽 ok").collect();
        let folded: Vec<_> = found.iter().map(|w| w.folded.as_str()).collect();
        assert_eq!(
            folded,
            [
                "don",
                "t",
                "panic",
                "café",
                "at",
                "10",
                "30",
                "naïve",
                "ünïcode",
                "ok"
            ]
        );
        let text = "Don't PANIC";
        let ranges: Vec<_> = words(text).map(|w| &text[w.range]).collect();
        assert_eq!(ranges, ["Don", "t", "PANIC"]);
    }

    #[test]
    fn the_index_holds_words_separated_by_single_spaces() {
        assert_eq!(index_words("  Hello,   WORLD!! "), "hello world");
        assert_eq!(index_words("!!! 👍"), "");
        assert_eq!(index_words("नमस्ते दुनिया"), "नमस्ते दुनिया");
        let long = "x".repeat(MAX_INDEXED_WORD_BYTES + 1);
        assert_eq!(index_words(&format!("short {long} words")), "short words");
    }
}
