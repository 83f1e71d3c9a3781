//! Logging in (or registering) on an anonymous connection, and keeping the token the server
//! gives in the profile's data dir: for `quid login` and `quid register`, and for a running
//! session whose token was refused (the TUI asks for the password in place).

use super::connection::{ConnectError, Connection, RequestError};
use super::state::{self, ClientState, StateError};
use crate::protocol::{RequestBody, requests, results};
use std::path::Path;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum LogInError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Where to log in, and where the token goes.
pub struct Account<'a> {
    pub server: &'a Url,
    pub ca_file: Option<&'a Path>,
    pub data_dir: &'a Path,
}

impl Account<'_> {
    /// Logs `username` in with `password`; the new token is saved.
    pub async fn log_in(
        &self,
        username: String,
        password: String,
    ) -> Result<results::Auth, LogInError> {
        let body = RequestBody::Login(requests::Login { username, password });
        self.authenticate(body).await
    }

    /// Runs register or login and saves the token it returns.
    pub async fn authenticate(&self, body: RequestBody) -> Result<results::Auth, LogInError> {
        let (connection, _) = Connection::open_trusting(self.server, self.ca_file, None).await?;
        connection.hello(None).await?;
        let auth: results::Auth = connection.request(body).await?;
        state::write_token(self.data_dir, &auth.token)?;
        ClientState::open(self.data_dir)?.set_username(&auth.user.username)?;
        Ok(auth)
    }
}
