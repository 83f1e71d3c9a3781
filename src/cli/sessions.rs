//! `quid sessions`: the account's sessions (one per login), and `quid sessions revoke ID`.

use super::chat::connect;
use crate::config::Profile;
use crate::protocol::requests;
use crate::protocol::{RequestBody, TimestampMs, results};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SessionAction {
    Revoke,
}

pub async fn list(profile: &Profile, json: bool) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let reply: results::Sessions = connection.request(RequestBody::Sessions).await?;
    if json {
        say!("{}", crate::untrusted::json(&reply)?);
        return Ok(ExitCode::SUCCESS);
    }
    for session in &reply.sessions {
        say!("{}", describe(session));
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(session: &results::SessionInfo) -> String {
    let last_used = match (&session.last_used_at, &session.last_address) {
        (Some(at), Some(address)) => format!("last used {} from {address}", local_time(*at)),
        (Some(at), None) => format!("last used {}", local_time(*at)),
        _ => "never used".into(),
    };
    let current = if session.current { "  (this one)" } else { "" };
    format!(
        "{}  created {}  {last_used}{current}",
        session.id,
        local_time(session.created_at)
    )
}

pub(super) fn local_time(at: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(at.0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "?".into())
}

pub async fn revoke(profile: &Profile, id: &str) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let _: results::Empty = connection
        .request(RequestBody::RevokeSession(requests::RevokeSession {
            session_id: id.to_owned(),
        }))
        .await?;
    say!("revoked session {id}; its connections are closed");
    Ok(ExitCode::SUCCESS)
}
