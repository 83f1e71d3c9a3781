//! `quid search TEXT [--in @user|#group] [--from USER] [--json]`.

use super::chat::{connect, format_message_with};
use super::output::Piece;
use crate::protocol::requests;
use crate::protocol::{Conversation, ConversationKind, RequestBody, results};
use crate::search::{Query, QueryError};
use crate::session::target::Target;
use anyhow::{anyhow, bail};
use std::io::IsTerminal;
use std::process::ExitCode;

/// What `quid search` was asked.
pub struct SearchCommand<'a> {
    pub text: &'a str,
    pub within: Option<&'a str>,
    pub from: Option<&'a str>,
    pub limit: u32,
    pub json: bool,
}

pub async fn search(
    profile: &crate::config::Profile,
    command: SearchCommand<'_>,
) -> anyhow::Result<ExitCode> {
    // Read here first, so that a typo is shown under the query without a round trip.
    Query::parse(command.text).map_err(|e| query_error(command.text, &e))?;
    let within = command
        .within
        .map(|t| t.parse::<Target>().map_err(|e| anyhow!("--in: {e}")))
        .transpose()?;
    let connection = connect(profile).await?;
    let list: results::Conversations = connection.request(RequestBody::Conversations).await?;
    let conversation_id = match &within {
        Some(target) => Some(find(&list.conversations, target)?.id),
        None => None,
    };
    let result: results::Search = connection
        .request(RequestBody::Search(requests::Search {
            query: command.text.to_owned(),
            conversation_id,
            from: command.from.map(|f| f.trim_start_matches('@').to_owned()),
            limit: command.limit,
        }))
        .await?;
    if command.json {
        say!("{}", crate::untrusted::json(&result)?);
    } else if result.hits.is_empty() {
        say!("no messages match {:?}", command.text);
    } else {
        let styled = std::io::stdout().is_terminal();
        for hit in &result.hits {
            super::output::marked_line(&format_hit(hit, &list.conversations), styled)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The query, and a caret under the column the error names.
fn query_error(text: &str, error: &QueryError) -> anyhow::Error {
    let caret = " ".repeat(error.column.saturating_sub(1));
    anyhow!(
        "{error}\n  {}\n  {caret}^",
        crate::untrusted::inert_line(text)
    )
}

/// The conversation `target` names among `conversations`; never opens one.
fn find<'a>(
    conversations: &'a [Conversation],
    target: &Target,
) -> anyhow::Result<&'a Conversation> {
    let found = conversations.iter().find(|c| match target {
        Target::User(name) => c.kind == ConversationKind::Direct && &c.name == name,
        Target::Group(name) => c.kind == ConversationKind::Group && &c.name == name,
        Target::Conversation(id) => c.id == *id,
    });
    match found {
        Some(conversation) => Ok(conversation),
        None => {
            let target = crate::untrusted::inert_line(&target.to_string());
            bail!("--in {target}: you have no conversation with {target}")
        }
    }
}

/// `#team  [2026-11-25 19:31] alice: the text` in pieces, the matches marked (the output
/// shows them in bold on a terminal).
fn format_hit(hit: &results::SearchHit, conversations: &[Conversation]) -> Vec<Piece> {
    let label = conversations
        .iter()
        .find(|c| c.id == hit.message.conversation_id)
        .map_or_else(
            || format!("conversation {}", hit.message.conversation_id),
            |c| match c.kind {
                ConversationKind::Direct => format!("@{}", c.name),
                ConversationKind::Group => format!("#{}", c.name),
            },
        );
    let prefix = format_message_with(&hit.message, String::new());
    let indent = format!("\n{}", " ".repeat(prefix.chars().count()));
    let mut pieces = vec![Piece {
        text: format!("{}  {prefix}", crate::untrusted::inert_line(&label)),
        marked: false,
    }];
    pieces.extend(
        with_marks(&hit.message.text, &hit.highlights)
            .into_iter()
            .map(|piece| Piece {
                text: piece.text.replace('\n', &indent),
                ..piece
            }),
    );
    pieces
}

/// `text` cut into pieces at the highlights, which are marked. Ranges that do not fall on the
/// text's characters are ignored.
fn with_marks(text: &str, highlights: &[[usize; 2]]) -> Vec<Piece> {
    let piece = |text: &str, marked| Piece {
        text: text.to_owned(),
        marked,
    };
    let mut pieces = Vec::new();
    let mut at = 0;
    for &[start, end] in highlights {
        let (Some(before), Some(matched)) = (text.get(at..start), text.get(start..end)) else {
            continue;
        };
        pieces.push(piece(before, false));
        pieces.push(piece(matched, true));
        at = end;
    }
    pieces.push(piece(text.get(at..).unwrap_or_default(), false));
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_cut_out_and_marked() {
        let text = "lunch \x1b[31mnext\x1b[0m week";
        let pieces = with_marks(text, &[[0, 5], [11, 15]]);
        let marked: Vec<&str> = pieces
            .iter()
            .filter(|p| p.marked)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(marked, ["lunch", "next"]);
        let all: String = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(all, text);
        let out_of_range = with_marks("hello", &[[0, 99]]);
        assert!(out_of_range.iter().all(|p| !p.marked));
    }

    #[test]
    fn a_query_error_points_at_its_column() {
        let error = Query::parse("lunch \"next week").unwrap_err();
        let shown = query_error("lunch \"next week", &error).to_string();
        assert_eq!(
            shown,
            "search query, column 7: this phrase has no closing `\"`\n  lunch \"next week\n        ^"
        );
    }
}
