//! search: full-text search over the caller's conversations.

use super::{Caller, Handler};
use crate::protocol::requests::Search;
use crate::protocol::{ApiError, ErrorCode, results};
use crate::search::{Query, highlights};
use crate::server::ServerState;
use crate::store::search::{MAX_SEARCH_LIMIT, SearchFilter};

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
        let found_query = query.clone();
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
                    query: &found_query,
                    conversation_id: self.conversation_id,
                    sender,
                    limit: self.limit,
                };
                conn.search(me, &filter)
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
