//! `quid config init`, `quid config check` and `quid config path`.

use crate::config::Profile;
use crate::session::state::read_token;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A starting config: one profile, the optional keys commented out with their defaults, as
/// config.example.toml documents them. `{server}` and `{username}` are filled in.
const STARTING_CONFIG: &str = r#"# quid's configuration, written by `quid config init`. `quid config check` validates it;
# config.example.toml (in quid's source) documents every key. Unknown keys are errors.

# A profile: one account on one server; --profile NAME picks one when there are several.
[profiles.{username}]
# The server's websocket URL: ws:// or wss:// (TLS).
server = "{server}"
# For a wss:// server whose certificate is self-signed or from a private CA: that
# certificate (or the CA's), as a PEM file; relative to this file.
# ca_file = "server-ca.pem"
username = "{username}"
# Where this profile keeps its token, state and log. Default: $QUID_DATA_DIR/profiles/NAME
# when QUID_DATA_DIR is set, else the platform's data dir (~/.local/share/quid/profiles/NAME).
# data_dir = "~/.local/share/quid/profiles/{username}"
# "dark" (default), "light", or the path of a theme file.
# theme = "dark"
# Where withdrawals go unless told otherwise: an IBAN.
# bank_account = "DE89 3704 0044 0532 0130 00"
# Ring the bell for a message in a conversation not in view (default true); also send a
# desktop notification (default false).
# notify_bell = true
# notify_osc = false
"#;

/// Writes a starting config at `path` for `username` on `server`, never over one that exists.
pub fn init(path: &Path, username: &str, server: &str) -> anyhow::Result<ExitCode> {
    if path.exists() {
        anyhow::bail!(
            "{} already exists; quid config check shows what it holds (nothing was written)",
            path.display()
        );
    }
    crate::protocol::accounts::validate_username(username)
        .map_err(|e| anyhow::anyhow!("--username: {}", e.message))?;
    // The URL as parsed: percent-encoded, so nothing in it can end the TOML string.
    let server =
        crate::config::parse_server(server).map_err(|e| anyhow::anyhow!("--server: {e}"))?;
    let text = STARTING_CONFIG
        .replace("{server}", server.as_str())
        .replace("{username}", username);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Written to a temporary name first and read back as any config is: what could not be
    // read leaves no file behind.
    let draft = path.with_extension("toml.new");
    std::fs::write(&draft, &text).with_context(|| format!("cannot write {}", draft.display()))?;
    if let Err(error) = crate::config::load_profile(&draft, None) {
        let _ = std::fs::remove_file(&draft);
        return Err(anyhow::anyhow!("{error}"))
            .context("nothing was written: the profile would not be valid");
    }
    std::fs::rename(&draft, path).with_context(|| format!("cannot write {}", path.display()))?;
    say!(
        "wrote {}; next: quid register (or quid login)",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn path(path: PathBuf) -> anyhow::Result<ExitCode> {
    let note = if path.exists() {
        ""
    } else {
        " (does not exist yet)"
    };
    say!("{}{note}", path.display());
    Ok(ExitCode::SUCCESS)
}

pub fn check(path: &Path, profile: &Profile) -> anyhow::Result<ExitCode> {
    // The TUI's settings too: a theme or key it could not use is refused now, at its line.
    crate::tui::settings::theme_and_keymap(&profile.tui).map_err(anyhow::Error::msg)?;
    let logged_in = match read_token(&profile.data_dir)? {
        Some(_) => "yes",
        None => "no (run quid login)",
    };
    say!("config:    {} (valid)", path.display());
    say!("profile:   {}", profile.name);
    say!("server:    {}", profile.server);
    say!("username:  {}", profile.username);
    say!("data dir:  {}", profile.data_dir.display());
    say!("logged in: {logged_in}");
    Ok(ExitCode::SUCCESS)
}
