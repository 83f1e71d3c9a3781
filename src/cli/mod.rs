//! The command line: clap definitions and the dispatch to each command. Commands print one
//! clear line to stderr on failure and exit non-zero; `--json` output is one JSON document.

/// `println!` for the commands' output, through the one chokepoint (`output::line`: inert),
/// returning a failed write to stdout as [`StdoutFailed`] instead of panicking on it
/// (`quid ... | head` closes the pipe early).
macro_rules! say {
    ($($arg:tt)*) => {{
        $crate::cli::output::line(format_args!($($arg)*))?
    }};
}

mod account;
mod admin;
mod chat;
mod command;
mod config_cmd;
mod execute;
mod files;
mod funding;
mod invoices;
pub(crate) mod money;
pub mod output;
mod packaging;
mod partner;
mod search;
mod secret;
mod serve;
mod sessions;
mod signals;

use crate::config::{self, Profile};
use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "quid",
    version,
    about = "Chat and pay from the terminal",
    max_term_width = 100
)]
pub struct Cli {
    /// Config file to read [default: the user config dir's quid/config.toml]
    #[arg(long, global = true, env = "QUID_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Profile to use [default: default_profile in the config]
    #[arg(long, global = true, env = "QUID_PROFILE", value_name = "NAME")]
    profile: Option<String>,
    /// Without a command, quid opens the chat TUI on the profile.
    #[command(subcommand)]
    command: Option<command::Command>,
    /// --config or --profile was typed (not only set in the environment).
    #[arg(skip)]
    profile_on_command_line: bool,
}

/// Parses the command line and runs it. Returns the process exit code.
pub fn run() -> anyhow::Result<std::process::ExitCode> {
    let matches = Cli::command()
        .try_get_matches()
        .unwrap_or_else(|error| without_env_in_usage(error).exit());
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.exit())?;
    cli.profile_on_command_line = ["config", "profile"]
        .iter()
        .any(|id| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(cli.execute())
}

/// `error` as clap would say it had QUID_CONFIG and QUID_PROFILE not been set: clap's usage
/// line lists the options it was given, and counts those from the environment, so a missing
/// argument read "Usage: quid history --config <PATH> <TARGET>", as if --config were needed.
fn without_env_in_usage(error: clap::Error) -> clap::Error {
    use clap::error::ErrorKind;
    // Help and the version are not mistakes, and help should name the variables.
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return error;
    }
    let bare = Cli::command()
        .mut_arg("config", |arg| arg.env(None))
        .mut_arg("profile", |arg| arg.env(None));
    match bare.try_get_matches() {
        Err(again) if again.kind() == error.kind() => again,
        _ => error,
    }
}

impl Cli {
    async fn open_tui(&self) -> anyhow::Result<std::process::ExitCode> {
        let path = self.config_path()?;
        if !path.exists() && self.config.is_none() {
            crate::tui::runner::first_run(&path).await?;
            return Ok(std::process::ExitCode::SUCCESS);
        }
        let profile = self.client_profile()?;
        let token = crate::session::state::read_token(&profile.data_dir)?.ok_or_else(|| {
            anyhow::anyhow!(
                "profile {} is not logged in; run `quid --profile {} login` (or register) first",
                profile.name,
                profile.name
            )
        })?;
        crate::tui::runner::run(&profile, token).await?;
        Ok(std::process::ExitCode::SUCCESS)
    }

    /// The profile a client command acts as, with its log file set up.
    fn client_profile(&self) -> anyhow::Result<Profile> {
        let profile = self.load_profile()?;
        crate::logging::to_file(&profile.data_dir.join("quid.log"));
        Ok(profile)
    }

    /// The demo's look and keys: the profile's when --config or --profile names one (so a
    /// theme or keymap can be tried on the demo), or when QUID_CONFIG / QUID_PROFILE do and
    /// the file is there; else the defaults, so the first run needs no config at all.
    fn demo_tui_settings(&self) -> anyhow::Result<config::TuiSettings> {
        let named = self.config.is_some() || self.profile.is_some();
        let file_there = self.config_path().is_ok_and(|path| path.exists());
        if self.profile_on_command_line || (named && file_there) {
            return Ok(self.load_profile()?.tui);
        }
        Ok(config::TuiSettings::default())
    }

    fn config_path(&self) -> anyhow::Result<PathBuf> {
        match &self.config {
            Some(path) => Ok(path.clone()),
            None => config::default_config_path()
                .context("cannot find this user's config directory; pass --config PATH"),
        }
    }

    fn load_profile(&self) -> anyhow::Result<Profile> {
        let path = self.config_path()?;
        if !path.exists() {
            anyhow::bail!(
                "no config file at {}: write one with `quid config init --username NAME` (or copy config.example.toml), or pass --config PATH",
                path.display()
            );
        }
        Ok(config::load_profile(&path, self.profile.as_deref())?)
    }
}

/// Writing a command's output failed: `main` stops quietly when the reader went away.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
pub struct StdoutFailed(pub std::io::Error);

/// The next line of standard input without its line ending, for a `--WHAT-stdin` flag: a
/// password, a PIN, a token, a passphrase. An empty line is refused, naming the flag.
fn line_from_stdin(what: &str, flag: &str) -> anyhow::Result<String> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| anyhow::anyhow!("cannot read the {what} from standard input: {e}"))?;
    let line = line.trim_end_matches(['\r', '\n']);
    if line.is_empty() {
        anyhow::bail!("standard input held no {what} ({flag} reads it from a line of its own)");
    }
    Ok(line.to_owned())
}
