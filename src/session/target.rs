//! Where a message goes, as a person writes it: `@user` or `#group`.

use super::connection::{Connection, RequestError};
use crate::protocol::requests;
use crate::protocol::{ApiError, ConversationId, ConversationKind, RequestBody, results};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The direct conversation with this user.
    User(String),
    /// The group of this name among your conversations.
    Group(String),
    /// A conversation by id (what the TUI uses once it knows it).
    Conversation(ConversationId),
}

impl Target {
    /// The conversation a target names, opening a direct conversation on first use.
    pub async fn resolve(&self, connection: &Connection) -> Result<ConversationId, RequestError> {
        match self {
            Target::Conversation(id) => Ok(*id),
            Target::User(username) => {
                let opened: results::OneConversation = connection
                    .request(RequestBody::OpenDirect(requests::OpenDirect {
                        username: username.clone(),
                    }))
                    .await?;
                Ok(opened.conversation.id)
            }
            Target::Group(name) => {
                let list: results::Conversations =
                    connection.request(RequestBody::Conversations).await?;
                list.conversations
                    .iter()
                    .find(|c| c.kind == ConversationKind::Group && &c.name == name)
                    .map(|c| c.id)
                    .ok_or_else(|| {
                        RequestError::Api(ApiError::not_found(format!(
                            "you are in no group named {name:?}"
                        )))
                    })
            }
        }
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(user) = text.strip_prefix('@').filter(|u| !u.is_empty()) {
            Ok(Target::User(user.to_owned()))
        } else if let Some(group) = text.strip_prefix('#').filter(|g| !g.is_empty()) {
            Ok(Target::Group(group.to_owned()))
        } else if let Some(id) = text.strip_prefix("conversation:") {
            id.parse()
                .map(|id| Target::Conversation(ConversationId(id)))
                .map_err(|_| format!("{text:?}: conversation id must be a number"))
        } else {
            Err(format!(
                "{text:?} is not a target: write @user for a direct conversation or #group for a group"
            ))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::User(user) => write!(f, "@{user}"),
            Target::Group(group) => write!(f, "#{group}"),
            Target::Conversation(id) => write!(f, "conversation:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for text in ["@bob", "#general", "#team chat", "conversation:12"] {
            assert_eq!(text.parse::<Target>().unwrap().to_string(), text);
        }
        for bad in ["bob", "@", "#", "conversation:x", ""] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }
}
