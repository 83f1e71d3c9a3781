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
mod config_cmd;
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
use crate::protocol::{MessageId, RequestBody, requests};
use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    command: Option<Command>,
    /// --config or --profile was typed (not only set in the environment).
    #[arg(skip)]
    profile_on_command_line: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the quid server
    Serve(serve::ServeArgs),
    /// Try quid: a local server, people to talk to, and the TUI logged in as alice
    Demo(crate::demo::DemoArgs),
    /// Measure the server against a ceiling or a baseline run on this machine, now
    Bench(crate::bench::BenchArgs),
    /// Create the profile's account on its server and log in
    Register {
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        passphrase: secret::Passphrase,
    },
    /// Log the profile in and save its session token
    Login {
        /// Read the password from the first line of standard input
        #[arg(long, conflicts_with = "token_stdin")]
        password_stdin: bool,
        #[command(flatten)]
        passphrase: secret::Passphrase,
        /// Read a token (a bot's, from `quid admin create-bot`) from standard input instead
        #[arg(long)]
        token_stdin: bool,
    },
    /// Revoke the saved session token and forget it
    Logout,
    /// List the account's sessions (where and when each was last used), or revoke one
    /// (`quid sessions revoke ID`)
    Sessions {
        /// revoke: end that session; its live connections close
        #[arg(requires = "id")]
        action: Option<sessions::SessionAction>,
        /// The session's id, as listed
        id: Option<String>,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// Send a message to @user or #group
    Send {
        /// @user for a direct conversation, #group for a group
        target: String,
        text: String,
        /// Answer this message (its id, as `quid history` shows it: #41)
        #[arg(long, value_name = "ID", value_parser = message_id)]
        reply_to: Option<MessageId>,
    },
    /// Send a message in the secret (end-to-end encrypted) conversation with @user, or
    /// accept their new identity keys with --accept-keys
    Secret {
        /// @user
        target: String,
        #[arg(required_unless_present_any = ["accept_keys", "timer"])]
        text: Option<String>,
        /// Trust the devices @user has now (after a warning that their keys changed: check
        /// with them first)
        #[arg(long, conflicts_with_all = ["text", "timer"])]
        accept_keys: bool,
        /// Make the conversation's messages disappear this long after they are sent (30s,
        /// 10m, 1h, 1d, up to 4w), for both of you; `off` turns it off
        #[arg(long, value_name = "DURATION", conflicts_with = "text",
              value_parser = crate::protocol::secret::parse_timer)]
        timer: Option<u32>,
        #[command(flatten)]
        passphrase: secret::Passphrase,
    },
    /// Mute a conversation (no notices but mentions), or unmute it with --off
    Mute {
        /// @user or #group
        target: String,
        #[arg(long)]
        off: bool,
    },
    /// Replace the text of one of your messages
    Edit {
        #[arg(value_parser = message_id)]
        id: MessageId,
        text: String,
    },
    /// Delete one of your messages for everyone (a tombstone stays)
    Delete {
        #[arg(value_parser = message_id)]
        id: MessageId,
    },
    /// Put an emoji under a message (or take yours back with --remove)
    React {
        #[arg(value_parser = message_id)]
        id: MessageId,
        emoji: String,
        #[arg(long)]
        remove: bool,
    },
    /// Show the newest messages of a conversation
    History {
        /// @user or #group
        target: String,
        /// How many messages, newest last
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
        /// Leave the conversation unread (by default what is shown counts as read, as in the TUI)
        #[arg(long)]
        no_mark_read: bool,
        /// The secret conversation with @user, decrypted here
        #[arg(long)]
        secret: bool,
        #[command(flatten)]
        passphrase: secret::Passphrase,
    },
    /// Search the messages of your conversations: words, "a phrase", prefix*, -word
    Search {
        /// What to find (docs/PROTOCOL.md, search)
        text: String,
        /// Only in this conversation: @user or #group
        #[arg(long = "in", value_name = "@USER|#GROUP")]
        within: Option<String>,
        /// Only messages this user sent
        #[arg(long, value_name = "USER")]
        from: Option<String>,
        /// How many matches, best first
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// List your conversations with unread counts
    Conversations {
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// Manage groups
    #[command(subcommand)]
    Group(GroupCommand),
    /// Show your wallet balances
    Balance {
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// Pay @user an amount, e.g. `quid pay @bob 12.50 EUR --memo lunch`
    Pay {
        /// The person, as @user
        to: String,
        /// Like 12.50, or 12.50 EUR in one argument; exact, no more decimals than the
        /// currency has
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// ISO 4217 code [default: your only currency]
        currency: Option<String>,
        /// What it is for, shown to both of you [default: none]
        #[arg(long, default_value = "", hide_default_value = true)]
        memo: String,
        #[command(flatten)]
        consent: money::Consent,
        /// Pay in your secret conversation with them: the memo travels end-to-end encrypted
        /// and the ledger keeps only a reference to it
        #[arg(long)]
        secret: bool,
    },
    /// Ask @user for an amount
    Request {
        /// The person to ask, as @user
        from: String,
        /// Like 12.50, or 12.50 EUR in one argument
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// ISO 4217 code [default: your only currency]
        currency: Option<String>,
        /// What it is for, shown to both of you [default: none]
        #[arg(long, default_value = "", hide_default_value = true)]
        memo: String,
        /// Ask in your secret conversation with them, the memo end-to-end encrypted
        #[arg(long)]
        secret: bool,
    },
    /// List payment requests, or pay, decline or cancel one: `quid requests pay 7`
    Requests {
        /// pay, decline (asked of you) or cancel (yours)
        #[arg(requires = "id")]
        action: Option<money::RequestAction>,
        /// The request's number, as listed
        id: Option<i64>,
        #[command(flatten)]
        consent: money::Consent,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// List invoices, or pay one (`quid invoices pay 3`) or refund one as the merchant
    /// (`quid invoices refund 3 [AMOUNT]`)
    Invoices {
        /// pay (as the buyer) or refund (as the merchant)
        #[arg(requires = "id")]
        action: Option<invoices::InvoiceAction>,
        /// The invoice's number, as listed
        id: Option<i64>,
        /// For refund: how much [default: all that is left]
        amount: Option<String>,
        #[command(flatten)]
        consent: money::Consent,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// Your transactions, newest first
    Statement {
        /// Print CSV (for spreadsheets)
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Print one JSON document
        #[arg(long)]
        json: bool,
    },
    /// Add money to your wallet through the server's payment partner: prints the checkout page
    /// to pay at, then waits until the payment settles
    Topup {
        /// Like 20 or 20.00, or 20 EUR in one argument
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// ISO 4217 code [default: your only currency]
        currency: Option<String>,
        /// Do not wait: print the checkout page and return
        #[arg(long)]
        no_wait: bool,
        /// Open the checkout page in a browser (where a graphical one can appear)
        #[arg(long)]
        open: bool,
        /// The partner's name, when the server has more than one
        #[arg(long, value_name = "NAME")]
        provider: Option<String>,
        /// Print one JSON document (the top-up as it ended, or as created with --no-wait)
        #[arg(long)]
        json: bool,
    },
    /// Send money from your wallet to a bank account through the server's payment partner
    Withdraw {
        /// Like 20 or 20.00, or 20 EUR in one argument
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// ISO 4217 code [default: your only currency]
        currency: Option<String>,
        /// The IBAN to pay [default: bank_account in the profile]
        #[arg(long, value_name = "IBAN")]
        to: Option<String>,
        /// The partner's name, when the server has more than one
        #[arg(long, value_name = "NAME")]
        provider: Option<String>,
        #[command(flatten)]
        consent: money::Consent,
        /// Print one JSON document
        #[arg(long)]
        json: bool,
    },
    /// Your top-ups and withdrawals, newest first, with how each stands
    Topups {
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// Run the sandbox payment partner, to try top-ups and withdrawals without real money
    PartnerSandbox(partner::SandboxArgs),
    /// Set or change the payment PIN every payment then needs
    Pin {
        /// Read the new PIN from the first line of standard input (the current PIN, or with
        /// --forgot the password, from the second)
        #[arg(long)]
        pin_stdin: bool,
        /// Set a new PIN with the account's password instead of the current PIN: for a
        /// forgotten PIN, or payments locked after too many wrong ones
        #[arg(long)]
        forgot: bool,
    },
    /// Administer a server's database file
    Admin(admin::AdminArgs),
    /// Inspect the configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script: `quid completions bash > ~/.local/share/bash-completion/completions/quid`
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print quid's man page (roff), or one command's: `quid man pay | man -l -`; with
    /// --out, write them all as files
    Man {
        /// A command, for its own page (quid-pay(1))
        command: Option<String>,
        /// Write quid.1 and a quid-NAME.1 for each command into this directory (made if
        /// missing) instead of printing: `quid man --out ~/.local/share/man/man1`
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// Create a group with you and the given members
    Create {
        name: String,
        /// Members, as @user
        #[arg(required = true)]
        members: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Write a starting config, commented, with one profile: `quid config init --username alice`
    Init {
        /// Your username on the server (2 to 32 characters: a-z, digits, '_')
        #[arg(long)]
        username: String,
        /// The server's websocket URL
        #[arg(long, default_value = "ws://127.0.0.1:7447")]
        server: String,
    },
    /// Validate the config and print the resolved profile
    Check,
    /// Print where the config file is looked for
    Path,
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
    async fn execute(self) -> anyhow::Result<std::process::ExitCode> {
        let Some(command) = &self.command else {
            return self.open_tui().await;
        };
        match command {
            Command::Serve(args) => serve::run(args).await,
            Command::Demo(args) => crate::demo::run(args, self.demo_tui_settings()?).await,
            Command::Bench(args) => crate::bench::run(args).await,
            Command::Admin(args) => {
                // Its database calls block (PostgreSQL's client drives a runtime of its own).
                let args = args.clone();
                tokio::task::spawn_blocking(move || admin::run(&args)).await?
            }
            Command::Pin { pin_stdin, forgot } => {
                money::set_pin(&self.client_profile()?, *pin_stdin, *forgot).await
            }
            Command::Balance { json } => money::balance(&self.client_profile()?, *json).await,
            Command::Pay {
                to,
                amount,
                currency,
                memo,
                consent,
                secret,
            } => {
                money::pay(
                    &self.client_profile()?,
                    to,
                    amount,
                    currency.as_deref(),
                    memo,
                    *consent,
                    *secret,
                )
                .await
            }
            Command::Request {
                from,
                amount,
                currency,
                memo,
                secret,
            } => {
                money::request(
                    &self.client_profile()?,
                    from,
                    amount,
                    currency.as_deref(),
                    memo,
                    *secret,
                )
                .await
            }
            Command::Requests {
                action,
                id,
                consent,
                json,
            } => match (action, id) {
                (Some(action), Some(id)) => {
                    money::act_on_request(&self.client_profile()?, *action, *id, *consent).await
                }
                _ => money::requests(&self.client_profile()?, *json).await,
            },
            Command::Invoices {
                action,
                id,
                amount,
                consent,
                json,
            } => match (action, id) {
                (Some(action), Some(id)) => {
                    invoices::act_on_invoice(
                        &self.client_profile()?,
                        *action,
                        *id,
                        amount.as_deref(),
                        *consent,
                    )
                    .await
                }
                _ => invoices::invoices(&self.client_profile()?, *json).await,
            },
            Command::Statement { csv, json } => {
                let format = match (csv, json) {
                    (true, _) => money::StatementFormat::Csv,
                    (_, true) => money::StatementFormat::Json,
                    _ => money::StatementFormat::Text,
                };
                money::statement(&self.client_profile()?, format).await
            }
            Command::Topup {
                amount,
                currency,
                no_wait,
                open,
                provider,
                json,
            } => {
                let flags = funding::TopupFlags {
                    json: *json,
                    wait: !no_wait,
                    open: *open,
                };
                let profile = self.client_profile()?;
                funding::topup(
                    &profile,
                    amount,
                    currency.as_deref(),
                    provider.as_deref(),
                    flags,
                )
                .await
            }
            Command::Withdraw {
                amount,
                currency,
                to,
                provider,
                consent,
                json,
            } => {
                let order = funding::WithdrawOrder {
                    amount,
                    currency: currency.as_deref(),
                    to: to.as_deref(),
                    provider: provider.as_deref(),
                    json: *json,
                };
                funding::withdraw(&self.client_profile()?, order, *consent).await
            }
            Command::Topups { json } => funding::list(&self.client_profile()?, *json).await,
            Command::PartnerSandbox(args) => partner::run_sandbox(args).await,
            Command::Completions { shell } => packaging::completions(*shell),
            Command::Man { command, out } => match out {
                Some(dir) => packaging::write_man_pages(dir, command.as_deref()),
                None => packaging::man_page(command.as_deref()),
            },
            Command::Config(ConfigCommand::Path) => config_cmd::path(self.config_path()?),
            Command::Config(ConfigCommand::Init { username, server }) => {
                config_cmd::init(&self.config_path()?, username, server)
            }
            Command::Config(ConfigCommand::Check) => {
                config_cmd::check(&self.config_path()?, &self.load_profile()?)
            }
            Command::Register {
                password_stdin,
                passphrase,
            } => account::register(&self.client_profile()?, *password_stdin, *passphrase).await,
            Command::Login {
                token_stdin: true,
                passphrase,
                ..
            } => {
                if passphrase.passphrase_stdin {
                    anyhow::bail!(
                        "--token-stdin logs a bot in, whose secret store is its key file: \
                         leave out --passphrase-stdin"
                    );
                }
                account::login_with_token(&self.client_profile()?).await
            }
            Command::Login {
                password_stdin,
                passphrase,
                ..
            } => account::login(&self.client_profile()?, *password_stdin, *passphrase).await,
            Command::Logout => account::logout(&self.client_profile()?).await,
            Command::Sessions { action, id, json } => match (action, id) {
                (Some(sessions::SessionAction::Revoke), Some(id)) => {
                    sessions::revoke(&self.client_profile()?, id).await
                }
                _ => sessions::list(&self.client_profile()?, *json).await,
            },
            Command::Send {
                target,
                text,
                reply_to,
            } => chat::send(&self.client_profile()?, target, text, *reply_to).await,
            Command::Mute { target, off } => {
                chat::mute(&self.client_profile()?, target, !off).await
            }
            Command::Edit { id, text } => {
                let body = RequestBody::EditMessage(requests::EditMessage {
                    message_id: *id,
                    text: text.clone(),
                });
                chat::change(&self.client_profile()?, body).await
            }
            Command::Delete { id } => {
                let body = RequestBody::DeleteMessage(requests::DeleteMessage { message_id: *id });
                chat::change(&self.client_profile()?, body).await
            }
            Command::React { id, emoji, remove } => {
                let body = RequestBody::React(requests::React {
                    message_id: *id,
                    emoji: emoji.clone(),
                    remove: *remove,
                });
                chat::change(&self.client_profile()?, body).await
            }
            Command::History {
                target,
                limit,
                json,
                no_mark_read,
                secret,
                passphrase,
            } => {
                let shown = chat::Shown {
                    limit: *limit,
                    json: *json,
                    mark_read: !no_mark_read,
                };
                let profile = self.client_profile()?;
                match secret {
                    true => secret::history(&profile, target, shown, *passphrase).await,
                    false => chat::history(&profile, target, shown).await,
                }
            }
            Command::Secret {
                target,
                text,
                passphrase,
                timer,
                ..
            } => {
                let profile = self.client_profile()?;
                match (text, timer) {
                    (Some(text), _) => secret::send(&profile, target, text, *passphrase).await,
                    (None, Some(seconds)) => {
                        secret::set_timer(&profile, target, *seconds, *passphrase).await
                    }
                    // Without TEXT or --timer, clap requires --accept-keys.
                    (None, None) => secret::accept_keys(&profile, target, *passphrase).await,
                }
            }
            Command::Search {
                text,
                within,
                from,
                limit,
                json,
            } => {
                let command = search::SearchCommand {
                    text,
                    within: within.as_deref(),
                    from: from.as_deref(),
                    limit: *limit,
                    json: *json,
                };
                search::search(&self.client_profile()?, command).await
            }
            Command::Conversations { json } => {
                chat::conversations(&self.client_profile()?, *json).await
            }
            Command::Group(GroupCommand::Create { name, members }) => {
                chat::create_group(&self.client_profile()?, name, members).await
            }
        }
    }

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

/// A message id as `quid history` prints it: `41` or `#41`.
fn message_id(text: &str) -> Result<MessageId, String> {
    text.trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(MessageId)
        .ok_or_else(|| format!("{text:?} is not a message id; `quid history` shows them as #41"))
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
