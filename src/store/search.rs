//! Full-text search over the messages a user may read: the store's half of `search` (the
//! query language and the words indexed are `crate::search`'s, the same on both backends).

use super::messages::{SELECT_MESSAGE, row_with_card_ref, with_card};
use crate::protocol::{ApiError, ConversationId, Message, UserId};
use crate::search::{Query, Term};
use rusqlite::Connection;

/// Most hits one search returns.
pub const MAX_SEARCH_LIMIT: u32 = 100;

/// What to look for, where, and how many.
pub struct SearchFilter<'a> {
    pub query: &'a Query,
    /// Only in this conversation (the caller checked that the user is a member).
    pub conversation_id: Option<ConversationId>,
    /// Only messages this user sent.
    pub sender: Option<UserId>,
    pub limit: u32,
}

pub trait Search {
    /// The messages matching `filter` in the conversations `reader` is a member of now, best
    /// match first (newest first among equals). A user who left a group finds nothing of it.
    fn search(&self, reader: UserId, filter: &SearchFilter) -> Result<Vec<Message>, ApiError>;
}

impl Search for Connection {
    fn search(&self, reader: UserId, filter: &SearchFilter) -> Result<Vec<Message>, ApiError> {
        let sql = format!(
            "{SELECT_MESSAGE}
             JOIN message_words f ON f.rowid = m.id
             JOIN members mb ON mb.conversation_id = m.conversation_id
                 AND mb.user_id = ?2 AND mb.active = 1
             WHERE message_words MATCH ?1
                 AND (?3 IS NULL OR m.conversation_id = ?3)
                 AND (?4 IS NULL OR m.sender_id = ?4)
             ORDER BY bm25(message_words), m.id DESC LIMIT ?5"
        );
        let rows = self
            .prepare_cached(&sql)?
            .query_map(
                rusqlite::params![
                    fts5_query(filter.query),
                    reader.0,
                    filter.conversation_id.map(|c| c.0),
                    filter.sender.map(|u| u.0),
                    filter.limit
                ],
                row_with_card_ref,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|row| with_card(self, row)).collect()
    }
}

/// `query` in FTS5's syntax. Every word is quoted, so nothing a user typed is read as an
/// FTS5 operator; words hold only letters, digits and marks (`search::words`).
fn fts5_query(query: &Query) -> String {
    let included: Vec<String> = query.include.iter().map(fts5_term).collect();
    let mut rendered = format!("({})", included.join(" AND "));
    for term in &query.exclude {
        rendered.push_str(" NOT ");
        rendered.push_str(&fts5_term(term));
    }
    rendered
}

fn fts5_term(term: &Term) -> String {
    let phrase = term.words.join(" ").replace('"', "\"\"");
    match term.prefix {
        true => format!("\"{phrase}\" *"),
        false => format!("\"{phrase}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_is_quoted_and_operators_are_words() {
        let query = Query::parse(r#"lunch "next week" pay* NEAR -pizza -"no way""#).unwrap();
        assert_eq!(
            fts5_query(&query),
            r#"("lunch" AND "next week" AND "pay" * AND "near") NOT "pizza" NOT "no way""#
        );
    }
}
