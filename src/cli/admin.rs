//! `quid admin --db PATH|URL ...`: operations on a server's database, for operators, demos
//! and tests. They work whether or not servers are running on it.

use crate::ledger;
use crate::money::Money;
use crate::protocol::payments::IdempotencyKey;
use crate::store::audit::LedgerTotals;
use crate::store::location::Location;
use crate::store::{Store, accounts, sessions};
use anyhow::anyhow;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// The server's database: a SQLite file, or postgres://USER@HOST:PORT/DB
    #[arg(long, value_name = "PATH|URL", value_parser = crate::store::location::parse_db)]
    db: Location,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum AdminCommand {
    /// Fund USER's wallet from issuance, e.g. `mint alice 100 EUR`
    Mint {
        user: String,
        amount: String,
        currency: String,
    },
    /// Verify the ledger's invariants; exits non-zero on any violation
    CheckLedger,
    /// Create a bot account; its token is the last word printed
    CreateBot {
        name: String,
        /// The business's display name, for a merchant bot
        #[arg(long, value_name = "DISPLAY NAME")]
        merchant: Option<String>,
    },
    /// Revoke every session of USER; a running server closes their live connections within a second
    Revoke { user: String },
}

pub fn run(args: &AdminArgs) -> anyhow::Result<ExitCode> {
    if let Location::Sqlite(path) = &args.db
        && !path.exists()
    {
        anyhow::bail!("no database at {}", path.display());
    }
    let store = Store::open(&args.db)?;
    match &args.command {
        AdminCommand::Mint {
            user,
            amount,
            currency,
        } => {
            let amount = Money::parse_with_currency(&format!("{amount} {currency}"), None)?;
            let username = user.trim_start_matches('@');
            let balance = store
                .write_once(|ctx| {
                    let user = ctx.db().user_by_name(username)?;
                    ledger::payments::mint(ctx, &user, amount, &IdempotencyKey::random())
                })
                .map_err(|e| anyhow!("{}", e.message))?;
            say!("minted {amount} to {username}; balance now {balance}");
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::CreateBot { name, merchant } => {
            let token = crate::server::auth::new_token();
            let token_hash = crate::server::auth::token_hash(&token);
            let bot = store
                .write_once(|ctx| {
                    let bot = accounts::create_bot(ctx, name, merchant.as_deref())?;
                    sessions::insert_token(ctx, &token_hash, bot.id)?;
                    Ok(bot)
                })
                .map_err(|e| anyhow!("{}", e.message))?;
            let kind = if bot.merchant.is_some() {
                "merchant bot"
            } else {
                "bot"
            };
            say!("created {kind} @{}; its token: {token}", bot.username);
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::Revoke { user } => {
            let username = user.trim_start_matches('@');
            let revoked = store
                .write_once(|ctx| {
                    let user = ctx.db().user_by_name(username)?;
                    sessions::revoke_all_tokens(ctx, user.id)
                })
                .map_err(|e| anyhow!("{}", e.message))?;
            say!("revoked {revoked} session(s) of {username}");
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::CheckLedger => check_ledger(&store),
    }
}

/// Checks every invariant of the ledger, saying which broke; fails if one did.
fn check_ledger(store: &Store) -> anyhow::Result<ExitCode> {
    let (findings, totals) = store
        .read_blocking(|db| Ok((db.audit_ledger()?, db.ledger_totals()?)))
        .map_err(|e| anyhow!("cannot read the ledger: {}", e.message))?;
    let LedgerTotals {
        accounts,
        transfers,
        requests,
        invoices,
    } = totals;
    let report = ledger::check::report(&findings);
    if !report.is_empty() {
        say!("{}", report.trim_end_matches('\n'));
    }
    say!(
        "checked {accounts} accounts, {transfers} transfers, {requests} payment requests, {invoices} invoices"
    );
    let failed = findings.iter().filter(|f| !f.violations.is_empty()).count();
    if failed == 0 {
        say!("ledger OK");
        Ok(ExitCode::SUCCESS)
    } else {
        say!("ledger BROKEN: {failed} invariant(s) violated");
        Ok(ExitCode::FAILURE)
    }
}
