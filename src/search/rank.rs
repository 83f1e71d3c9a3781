//! Which matches come first: BM25's weighting of how often a message holds each term against
//! its length, computed here rather than by the database. Every term of a query must match, so
//! the part of BM25 that weighs rare terms above common ones (IDF) would order nothing, and
//! it is the part that costs: a database computes it over every match in the store, not only
//! over the newest ones a search ranks. The same order on both backends, too.

use super::highlight::occurrences;
use super::{Query, Word, words};

/// BM25's usual constants: how fast repeats stop counting, and how much length weighs.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// `candidates` (newest first), best match first; among equal scores, newest first.
pub fn rank<T>(query: &Query, candidates: Vec<(T, String)>) -> Vec<T> {
    let counted: Vec<(T, Vec<usize>, usize)> = candidates
        .into_iter()
        .map(|(key, text)| {
            let words: Vec<Word> = words(&text).collect();
            let counts = query
                .include
                .iter()
                .map(|term| occurrences(&words, term).count())
                .collect();
            (key, counts, words.len())
        })
        .collect();
    let average_length =
        counted.iter().map(|c| c.2).sum::<usize>() as f64 / counted.len().max(1) as f64;
    let mut scored: Vec<(f64, T)> = counted
        .into_iter()
        .map(|(key, counts, length)| {
            let norm = K1 * (1.0 - B + B * length as f64 / average_length.max(1.0));
            let score = counts
                .iter()
                .map(|&tf| {
                    let tf = tf as f64;
                    tf * (K1 + 1.0) / (tf + norm)
                })
                .sum();
            (score, key)
        })
        .collect();
    // Stable: equal scores keep the candidates' order, newest first.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, key)| key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_and_short_messages_rank_first_and_ties_stay_newest_first() {
        let query = Query::parse("invoice").unwrap();
        let candidates = vec![
            (
                5,
                "a long message that mentions an invoice once among many other words".into(),
            ),
            (4, "invoice".into()),
            (3, "the invoice".into()),
            (
                2,
                "invoice invoice invoice, and more words around it".into(),
            ),
            (1, "the invoice".into()),
        ];
        assert_eq!(rank(&query, candidates), [4, 2, 3, 1, 5]);
    }
}
