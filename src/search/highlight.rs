//! Where a query's words and phrases occur in a text, for clients to highlight.

use super::{Query, Term, Word, words};
use std::ops::Range;

/// Byte ranges of `text` that match `query`'s included terms, ascending and disjoint.
pub fn highlights(text: &str, query: &Query) -> Vec<Range<usize>> {
    let words: Vec<Word> = words(text).collect();
    let mut found: Vec<Range<usize>> = query
        .include
        .iter()
        .flat_map(|term| occurrences(&words, term))
        .collect();
    found.sort_by_key(|range| range.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(found.len());
    for range in found {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// Each run of `words` that `term` matches, from its first word's start to its last's end.
pub(super) fn occurrences<'a>(
    words: &'a [Word],
    term: &'a Term,
) -> impl Iterator<Item = Range<usize>> + 'a {
    let length = term.words.len();
    words.windows(length).filter_map(move |run| {
        let matches =
            run.iter()
                .zip(&term.words)
                .enumerate()
                .all(
                    |(at, (word, wanted))| match term.prefix && at == length - 1 {
                        true => word.folded.starts_with(wanted.as_str()),
                        false => word.folded == *wanted,
                    },
                );
        matches.then(|| run[0].range.start..run[length - 1].range.end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str, query: &str) -> String {
        let query = Query::parse(query).unwrap();
        let mut out = String::new();
        let mut at = 0;
        for range in highlights(text, &query) {
            out.push_str(&text[at..range.start]);
            out.push('[');
            out.push_str(&text[range.clone()]);
            out.push(']');
            at = range.end;
        }
        out.push_str(&text[at..]);
        out
    }

    #[test]
    fn words_phrases_and_prefixes_are_marked_where_they_occur() {
        assert_eq!(
            marked(
                "Lunch next week? Next, WEEK-end payments paid",
                r#""next week" pay* lunch"#
            ),
            "[Lunch] [next week]? [Next, WEEK]-end [payments] paid"
        );
        assert_eq!(marked("pizza party", "party -pizza"), "pizza [party]");
        assert_eq!(marked("nothing here", "absent"), "nothing here");
    }

    #[test]
    fn overlapping_matches_merge_into_one_range() {
        assert_eq!(
            marked("big red dog", r#""big red" "red dog""#),
            "[big red dog]"
        );
    }
}
