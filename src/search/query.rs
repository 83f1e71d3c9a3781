//! The query language users type, small and forgiving: words (every one must appear),
//! `"a phrase"` (its words in that order), `word*` (a prefix), and `-word` or `-"a phrase"`
//! (must not appear). `AND`, `OR`, `NOT` and `NEAR` are words like any other: no input is
//! handed to a database's own query syntax.

use super::words;
use std::fmt;

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most words and phrases in one query.
pub const MAX_TERMS: usize = 16;
/// Shortest prefix: one letter would match most of the index.
const MIN_PREFIX_CHARS: usize = 2;

/// A parsed query: what must match, and what must not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub include: Vec<Term>,
    pub exclude: Vec<Term>,
}

/// Folded words in order; `prefix` makes the last one match any word it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub words: Vec<String>,
    pub prefix: bool,
}

/// Why a query cannot be read; `column` counts characters from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub column: usize,
    pub reason: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "search query, column {}: {}", self.column, self.reason)
    }
}

impl std::error::Error for QueryError {}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let length = text.chars().count();
        if length > MAX_QUERY_CHARS {
            return Err(error(
                MAX_QUERY_CHARS + 1,
                format!("the query is {length} characters; the limit is {MAX_QUERY_CHARS}"),
            ));
        }
        let mut query = Query {
            include: Vec::new(),
            exclude: Vec::new(),
        };
        let mut items = Items::new(text);
        while let Some(item) = items.next_item()? {
            let Some(term) = item.term()? else { continue };
            if query.include.len() + query.exclude.len() == MAX_TERMS {
                return Err(error(
                    item.column,
                    format!("a query holds at most {MAX_TERMS} words and phrases"),
                ));
            }
            match item.negated {
                true => query.exclude.push(term),
                false => query.include.push(term),
            }
        }
        if query.include.is_empty() {
            let reason = match query.exclude.is_empty() {
                true => "nothing to search for: type a word (letters or digits)",
                false => "a query needs a word to find, not only words to leave out",
            };
            return Err(error(1, reason.into()));
        }
        Ok(query)
    }
}

fn error(column: usize, reason: String) -> QueryError {
    QueryError { column, reason }
}

/// One whitespace-separated piece of a query, before its words are cut.
struct Item {
    column: usize,
    negated: bool,
    text: String,
    prefix: bool,
}

impl Item {
    /// The term this item asks for; `None` when it holds no word ("!!", a lone "-").
    fn term(&self) -> Result<Option<Term>, QueryError> {
        let words: Vec<String> = words(&self.text).map(|w| w.folded).collect();
        let Some(last) = words.last() else {
            return match self.prefix {
                true => Err(error(self.column, "`*` must end a word".into())),
                false => Ok(None),
            };
        };
        if self.prefix && last.chars().count() < MIN_PREFIX_CHARS {
            return Err(error(
                self.column,
                format!("a prefix needs {MIN_PREFIX_CHARS} letters or more before `*`"),
            ));
        }
        if self.prefix && self.text.ends_with(|c: char| !super::is_word_char(c)) {
            return Err(error(
                self.column,
                "`*` must follow a letter or a digit".into(),
            ));
        }
        Ok(Some(Term {
            words,
            prefix: self.prefix,
        }))
    }
}

/// Cuts a query into items, column by column.
struct Items<'a> {
    chars: std::iter::Peekable<std::iter::Enumerate<std::str::Chars<'a>>>,
}

impl<'a> Items<'a> {
    fn new(text: &'a str) -> Self {
        Items {
            chars: text.chars().enumerate().peekable(),
        }
    }

    fn next_item(&mut self) -> Result<Option<Item>, QueryError> {
        while self.chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(at, first)) = self.chars.peek() else {
            return Ok(None);
        };
        let column = at + 1;
        let negated = first == '-';
        if negated {
            self.chars.next();
        }
        let quoted = self.chars.next_if(|(_, c)| *c == '"').is_some();
        let text = match quoted {
            true => self.quoted_text(column)?,
            false => self.bare_text()?,
        };
        let prefix = self.chars.next_if(|(_, c)| *c == '*').is_some();
        if let Some(&(at, c)) = self.chars.peek()
            && !c.is_whitespace()
        {
            let reason = match prefix {
                true => "`*` must end a word".to_owned(),
                false => format!("put a space before {c:?}"),
            };
            return Err(error(at + 1, reason));
        }
        Ok(Some(Item {
            column,
            negated,
            text,
            prefix,
        }))
    }

    fn quoted_text(&mut self, column: usize) -> Result<String, QueryError> {
        let mut text = String::new();
        for (_, c) in self.chars.by_ref() {
            if c == '"' {
                return Ok(text);
            }
            text.push(c);
        }
        Err(error(column, "this phrase has no closing `\"`".into()))
    }

    /// A word up to whitespace, a quote or a `*`.
    fn bare_text(&mut self) -> Result<String, QueryError> {
        let mut text = String::new();
        while let Some((_, c)) = self
            .chars
            .next_if(|(_, c)| !c.is_whitespace() && *c != '*' && *c != '"')
        {
            text.push(c);
        }
        if let Some(&(at, '"')) = self.chars.peek() {
            return Err(error(
                at + 1,
                "a phrase starts after a space: put one before `\"`".into(),
            ));
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(words: &[&str], prefix: bool) -> Term {
        Term {
            words: words.iter().map(|w| w.to_string()).collect(),
            prefix,
        }
    }

    #[test]
    fn words_phrases_prefixes_and_exclusions() {
        let query = Query::parse(r#"Lunch "next WEEK" pay* -pizza -"no way" NEAR"#).unwrap();
        assert_eq!(
            query.include,
            [
                term(&["lunch"], false),
                term(&["next", "week"], false),
                term(&["pay"], true),
                term(&["near"], false),
            ]
        );
        assert_eq!(
            query.exclude,
            [term(&["pizza"], false), term(&["no", "way"], false)]
        );
    }

    #[test]
    fn punctuation_inside_a_word_makes_a_phrase_and_alone_is_skipped() {
        let query = Query::parse("don't ! -- bob@example.com").unwrap();
        assert_eq!(
            query.include,
            [
                term(&["don", "t"], false),
                term(&["bob", "example", "com"], false)
            ]
        );
        assert!(query.exclude.is_empty());
    }

    #[test]
    fn what_cannot_be_read_says_where() {
        let cases = [
            ("", 1, "nothing to search for"),
            ("   !!  ", 1, "nothing to search for"),
            ("-pizza", 1, "not only words to leave out"),
            (r#"lunch "next week"#, 7, "no closing"),
            ("*", 1, "`*` must end a word"),
            ("lu*nch", 4, "`*` must end a word"),
            (r#""a b"c"#, 6, "put a space before 'c'"),
            ("a*", 1, "2 letters or more"),
            ("hi!*", 1, "must follow a letter"),
            (r#"say"hi""#, 4, "phrase starts after a space"),
        ];
        for (text, column, reason) in cases {
            let found = Query::parse(text).unwrap_err();
            assert_eq!(found.column, column, "{text:?}: {found}");
            assert!(found.reason.contains(reason), "{text:?}: {found}");
        }
    }

    #[test]
    fn oversized_queries_are_refused() {
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert!(
            Query::parse(&long)
                .unwrap_err()
                .reason
                .contains("limit is 256")
        );
        let many = vec!["word"; MAX_TERMS + 1].join(" ");
        let found = Query::parse(&many).unwrap_err();
        assert!(found.reason.contains("at most 16"), "{found}");
        assert_eq!(found.column, 5 * MAX_TERMS + 1);
    }
}
