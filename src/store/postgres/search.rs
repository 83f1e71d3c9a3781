//! `Search` on PostgreSQL: the same contract as SQLite's FTS5 (store/search.rs), over a
//! tsvector column quid fills itself, so that both backends cut words alike.

use super::PgTx;
use crate::protocol::{ApiError, MessageId, UserId};
use crate::search::{Query, Term};
use crate::store::search::{RANKED_WINDOW, Search, SearchFilter};

impl Search for PgTx<'_> {
    fn newest_matches(
        &self,
        reader: UserId,
        filter: &SearchFilter,
    ) -> Result<Vec<(MessageId, String)>, ApiError> {
        let sql = format!(
            "SELECT m.id, m.text FROM messages m
             JOIN members mb ON mb.conversation_id = m.conversation_id
                 AND mb.user_id = $2 AND mb.active = 1
             WHERE m.words @@ $1::text::tsquery
                 AND ($3::bigint IS NULL OR m.conversation_id = $3)
                 AND ($4::bigint IS NULL OR m.sender_id = $4)
             ORDER BY m.id DESC LIMIT {RANKED_WINDOW}"
        );
        let rows = self.tx().query(
            &sql,
            &[
                &tsquery(filter.query),
                &reader.0,
                &filter.conversation_id.map(|c| c.0),
                &filter.sender.map(|u| u.0),
            ],
        )?;
        Ok(rows
            .iter()
            .map(|row| (MessageId(row.get(0)), row.get(1)))
            .collect())
    }
}

/// `text`'s words as a tsvector's text: each lexeme quoted and taken as it is (no parser),
/// with its positions, for phrases and ranking.
pub(super) fn words_vector(text: &str) -> String {
    let mut positions: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (at, word) in crate::search::indexed_words(text).enumerate() {
        // PostgreSQL keeps positions up to 16,383; later words share the last one.
        positions
            .entry(word)
            .or_default()
            .push((at + 1).min(16_383));
    }
    let lexemes: Vec<String> = positions
        .into_iter()
        .map(|(word, at)| {
            let at: Vec<String> = at.iter().map(usize::to_string).collect();
            format!("{}:{}", lexeme(&word), at.join(","))
        })
        .collect();
    lexemes.join(" ")
}

/// `query` as a tsquery's text: lexemes quoted (no parser), a phrase's words `<->` apart.
fn tsquery(query: &Query) -> String {
    let included = query.include.iter().map(term);
    let excluded = query.exclude.iter().map(|t| format!("!{}", term(t)));
    included.chain(excluded).collect::<Vec<_>>().join(" & ")
}

fn term(term: &Term) -> String {
    let last = term.words.len() - 1;
    let words: Vec<String> = term
        .words
        .iter()
        .enumerate()
        .map(|(at, word)| match term.prefix && at == last {
            true => format!("{}:*", lexeme(word)),
            false => lexeme(word),
        })
        .collect();
    format!("({})", words.join(" <-> "))
}

/// A word quoted as a lexeme. Words hold letters, digits and marks only; escaping keeps
/// that from being what stands between a user and the tsquery syntax.
fn lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_are_adjacent_lexemes_and_nothing_is_parsed() {
        let query = Query::parse(r#"lunch "next wee"* -pizza -"no way""#).unwrap();
        assert_eq!(
            tsquery(&query),
            "('lunch') & ('next' <-> 'wee':*) & !('pizza') & !('no' <-> 'way')"
        );
        assert_eq!(
            words_vector("Lunch, lunch & next week"),
            "'lunch':1,2 'next':3 'week':4"
        );
    }
}
