//! A user as every frame names one: the account's id and name, and what kind of account it is.

use super::types::UserId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    /// A bot account (a program, not a person). Absent on the wire when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
    /// For a merchant's bot: the business's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
}

impl User {
    /// A person's account; bots are marked where the store knows it.
    pub fn new(id: UserId, username: impl Into<String>) -> User {
        User {
            id,
            username: username.into(),
            bot: false,
            merchant: None,
        }
    }
}
