//! `quid topup`, `quid withdraw`, `quid topups`: money in and out through the server's payment
//! partner. A top-up prints its checkout page and follows it until it settles.

use super::chat::connect;
use super::money::{Consent, amount, with_pin};
use super::sessions::local_time;
use crate::config::Profile;
use crate::protocol::funding::{
    Funding, FundingId, FundingKind, FundingStatus, normalize_iban, validate_checkout_url,
};
use crate::protocol::payments::IdempotencyKey;
use crate::protocol::{RequestBody, requests, results};
use crate::session::connection::Connection;
use anyhow::{anyhow, bail};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

/// How `quid topup` goes on after the partner made the top-up.
#[derive(Debug, Clone, Copy)]
pub struct TopupFlags {
    pub json: bool,
    pub wait: bool,
    pub open: bool,
}

pub async fn topup(
    profile: &Profile,
    amount_text: &str,
    currency: Option<&str>,
    provider: Option<&str>,
    flags: TopupFlags,
) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let amount = amount(&connection, amount_text, currency).await?;
    let key = IdempotencyKey::random();
    let body = |_pin| {
        RequestBody::Topup(requests::Topup {
            amount,
            idempotency_key: key.clone(),
            provider: provider.map(str::to_owned),
        })
    };
    let funding: Funding = with_pin(profile, connection.clone(), unreachable_pin, body).await?;
    let url = funding.checkout_url.clone().unwrap_or_default();
    // What the server says is a page is checked before it is shown or opened.
    validate_checkout_url(&url).map_err(|why| {
        anyhow!(
            "top-up {}: the server's checkout address cannot be used ({why}); not shown or opened",
            funding.id
        )
    })?;
    if !flags.json {
        say!(
            "top-up {} of {} via {}: pay at {url}",
            funding.id,
            funding.amount,
            funding.provider
        );
    }
    if flags.open && !crate::browser::open(&url) && !flags.json {
        eprintln!("(no browser could be opened here: open the address above yourself)");
    }
    if !flags.wait {
        if flags.json {
            say!("{}", crate::untrusted::json(&funding)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let settled = follow(profile, connection, funding, !flags.json).await?;
    report(&settled, flags.json, profile).await
}

/// A top-up needs no PIN: no money leaves the wallet.
fn unreachable_pin() -> anyhow::Result<String> {
    bail!("the server asked a PIN for a top-up")
}

/// Says how a settled top-up ended; the exit code is non-zero unless it succeeded.
async fn report(funding: &Funding, json: bool, profile: &Profile) -> anyhow::Result<ExitCode> {
    if json {
        say!("{}", crate::untrusted::json(funding)?);
    } else if funding.status == FundingStatus::Succeeded {
        let connection = connect(profile).await?;
        let balance: results::Balance = connection.request(RequestBody::Balance).await?;
        let now = balance
            .balances
            .iter()
            .find(|m| m.currency == funding.amount.currency)
            .map_or(String::new(), |m| format!("; balance {m}"));
        say!(
            "top-up {} succeeded: {} added{now}",
            funding.id,
            funding.amount
        );
    } else {
        say!(
            "top-up {} failed: {}",
            funding.id,
            crate::untrusted::inert_line(&funding.reason)
        );
    }
    Ok(match funding.status {
        FundingStatus::Succeeded => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// How often a waiting `quid topup` asks the server where its top-up stands.
const POLL: Duration = Duration::from_millis(500);

/// Waits until `funding` is no longer pending, asking the server twice a second (a command's
/// connection does not follow the event stream, which would replay the user's backlog), with a
/// spinner on a terminal. A dropped connection is opened again.
async fn follow(
    profile: &Profile,
    mut connection: Connection,
    mut funding: Funding,
    chatty: bool,
) -> anyhow::Result<Funding> {
    let spinner = chatty && std::io::stderr().is_terminal();
    if chatty && !spinner {
        eprintln!("waiting for the payment...");
    }
    let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let mut tick = tokio::time::interval(Duration::from_millis(120));
    let mut poll = tokio::time::interval(POLL);
    let mut frame = 0;
    while funding.status == FundingStatus::Pending {
        tokio::select! {
            _ = tick.tick(), if spinner => {
                frame = (frame + 1) % frames.len();
                eprint!("\r{} waiting for the payment (Ctrl-C stops waiting; the top-up goes on) ", frames[frame]);
                let _ = std::io::stderr().flush();
            }
            _ = poll.tick() => match current(&connection, funding.id).await {
                Ok(Some(now)) => funding = now,
                Ok(None) => bail!("the server no longer lists top-up {}", funding.id),
                Err(_) => connection = connect(profile).await?,
            },
        }
    }
    if spinner {
        eprint!("\r\x1b[2K");
    }
    Ok(funding)
}

/// Funding `id` as the server has it now.
async fn current(connection: &Connection, id: FundingId) -> anyhow::Result<Option<Funding>> {
    let list: results::Fundings = connection.request(RequestBody::Fundings).await?;
    Ok(list.fundings.into_iter().find(|f| f.id == id))
}

/// What `quid withdraw` was told.
pub struct WithdrawOrder<'a> {
    pub amount: &'a str,
    pub currency: Option<&'a str>,
    pub to: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub json: bool,
}

pub async fn withdraw(
    profile: &Profile,
    order: WithdrawOrder<'_>,
    consent: Consent,
) -> anyhow::Result<ExitCode> {
    let account = match order.to.or(profile.bank_account.as_deref()) {
        Some(account) => normalize_iban(account).map_err(|e| anyhow!("--to: {e}"))?,
        None => bail!(
            "say where the money goes: --to IBAN, or bank_account in profile {}",
            profile.name
        ),
    };
    let connection = connect(profile).await?;
    let amount = amount(&connection, order.amount, order.currency).await?;
    super::money::require_cover(&connection, amount).await?;
    let shown = crate::protocol::funding::masked_account(&account);
    if !consent.confirms(&format!("Withdraw {amount} to {shown}?"))? {
        say!("nothing withdrawn");
        return Ok(ExitCode::FAILURE);
    }
    let key = IdempotencyKey::random();
    let body = |pin| {
        RequestBody::Withdraw(requests::Withdraw {
            amount,
            bank_account: account.clone(),
            idempotency_key: key.clone(),
            provider: order.provider.map(str::to_owned),
            pin,
        })
    };
    let funding: Funding = with_pin(profile, connection, || consent.pin(), body).await?;
    if order.json {
        say!("{}", crate::untrusted::json(&funding)?);
    } else {
        say!(
            "withdrawal {} of {} to {}: {} (the money has left your balance; if the bank refuses it, it comes back)",
            funding.id,
            funding.amount,
            shown,
            funding.status.as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn list(profile: &Profile, json: bool) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let list: results::Fundings = connection.request(RequestBody::Fundings).await?;
    if json {
        say!("{}", crate::untrusted::json(&list.fundings)?);
    } else if list.fundings.is_empty() {
        say!("no top-ups or withdrawals yet");
    } else {
        for funding in &list.fundings {
            say!("{}", describe(funding));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of `quid topups`.
fn describe(funding: &Funding) -> String {
    let kind = match funding.kind {
        FundingKind::Topup => "top-up",
        FundingKind::Payout => "withdrawal",
    };
    let mut line = format!(
        "#{:<5} {}  {kind:<10} {:>12}  {:<9}  via {}",
        funding.id.0,
        local_time(funding.created_at),
        funding.amount.to_string(),
        funding.status.as_str(),
        crate::untrusted::inert_line(&funding.provider)
    );
    if let Some(account) = &funding.bank_account {
        line.push_str(&format!(" to {}", crate::untrusted::inert_line(account)));
    }
    if !funding.reason.is_empty() {
        line.push_str(&format!(
            ": {}",
            crate::untrusted::inert_line(&funding.reason)
        ));
    }
    line
}
