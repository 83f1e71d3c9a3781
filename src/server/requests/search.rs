//! search: full-text search over the caller's conversations.

use super::{Caller, Handler};
use crate::protocol::requests::Search;
use crate::protocol::{ApiError, ErrorCode, results};
use crate::search::{Query, highlights, rank};
use crate::server::ServerState;
use crate::store::search::SearchFilter;

/// Most hits one search returns.
pub const MAX_SEARCH_LIMIT: u32 = 100;

impl Handler for Search {
    type Reply = results::Search;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let query = Query::parse(&self.query)
            .map_err(|e| ApiError::new(ErrorCode::BadQuery, e.to_string()))?;
        if self.limit == 0 || self.limit > MAX_SEARCH_LIMIT {
            return Err(ApiError::invalid(format!(
                "search limit must be 1 to {MAX_SEARCH_LIMIT}, not {}",
                self.limit
            )));
        }
        let limit = self.limit as usize;
        let found = query.clone();
        let messages = state
            .store
            .read(move |conn| {
                if let Some(conversation_id) = self.conversation_id {
                    conn.require_member(conversation_id, me)?;
                }
                let sender = match &self.from {
                    Some(username) => Some(conn.user_by_name(username)?.id),
                    None => None,
                };
                let filter = SearchFilter {
                    query: &found,
                    conversation_id: self.conversation_id,
                    sender,
                };
                let matches = conn.newest_matches(me, &filter)?;
                rank(&found, matches)
                    .into_iter()
                    .take(limit)
                    .map(|id| conn.message(id))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let hits = messages
            .into_iter()
            .map(|message| results::SearchHit {
                highlights: highlights(&message.text, &query)
                    .into_iter()
                    .map(|range| [range.start, range.end])
                    .collect(),
                message,
            })
            .collect();
        Ok(results::Search { hits })
    }
}
