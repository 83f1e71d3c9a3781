//! The commands as clap reads them from the command line: their arguments, help and checks.

use super::{admin, invoices, money, partner, secret, serve, sessions};
use crate::protocol::MessageId;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
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
    /// Send a message to @user or #group, or files with --file (the text is then the
    /// caption, and may be left out)
    Send {
        /// @user for a direct conversation, #group for a group
        target: String,
        #[arg(required_unless_present = "files")]
        text: Option<String>,
        /// Answer this message (its id, as `quid history` shows it: #41)
        #[arg(long, value_name = "ID", value_parser = message_id)]
        reply_to: Option<MessageId>,
        /// Send this file (repeat for more; each is a message of its own, the text goes
        /// with the first)
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<std::path::PathBuf>,
    },
    /// Save the file a message carries: into the current folder under its own name (never
    /// replacing a file), or where -o says
    Download {
        /// The message's id, as `quid history` shows it (#41)
        #[arg(value_parser = message_id)]
        id: MessageId,
        /// A folder to save into, or the file to save as (which must not exist yet)
        #[arg(short, long, value_name = "PATH")]
        output: Option<std::path::PathBuf>,
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
pub(super) enum GroupCommand {
    /// Create a group with you and the given members
    Create {
        name: String,
        /// Members, as @user
        #[arg(required = true)]
        members: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum ConfigCommand {
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

/// A message id as `quid history` prints it: `41` or `#41`.
fn message_id(text: &str) -> Result<MessageId, String> {
    text.trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(MessageId)
        .ok_or_else(|| format!("{text:?} is not a message id; `quid history` shows them as #41"))
}
