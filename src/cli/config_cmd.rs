//! `quid config check` and `quid config path`.

use crate::config::Profile;
use crate::session::state::read_token;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
