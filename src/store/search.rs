//! Full-text search over the messages a user may read: the store's half of `search`. The
//! query language, the words indexed and the ranking are `crate::search`'s, the same on both
//! backends; a store finds the newest matches.

use crate::protocol::{ApiError, ConversationId, MessageId, UserId};
use crate::search::{Query, Term};

/// How many of the newest matches a search ranks. A common word matches a large part of a
/// store; ranking every match would cost time in proportion, and in a chat the newest matter
/// most.
pub const RANKED_WINDOW: u32 = 300;

/// What to look for, and where.
pub struct SearchFilter<'a> {
    pub query: &'a Query,
    /// Only in this conversation (the caller checked that the user is a member).
    pub conversation_id: Option<ConversationId>,
    /// Only messages this user sent.
    pub sender: Option<UserId>,
}

pub trait Search {
    /// The newest `RANKED_WINDOW` messages matching `filter` in the conversations `reader` is
    /// a member of now, newest first, with their text. A user who left a group finds nothing
    /// of it.
    fn newest_matches(
        &self,
        reader: UserId,
        filter: &SearchFilter,
    ) -> Result<Vec<(MessageId, String)>, ApiError>;
}

/// `query` in FTS5's syntax. Every word is quoted, so nothing a user typed is read as an
/// FTS5 operator; words hold only letters, digits and marks (`search::words`).
pub(crate) fn fts5_query(query: &Query) -> String {
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
