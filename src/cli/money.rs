//! `quid balance`, `pay`, `request`, `requests`, `statement`: the wallet from the command line.

use super::chat::connect;
use crate::config::Profile;
use crate::money::{Currency, Money};
use crate::protocol::accounts::validate_pin;
use crate::protocol::payments::{IdempotencyKey, PaymentRequest, PaymentRequestId, readable_memo};
use crate::protocol::requests;
use crate::protocol::{ErrorCode, RequestBody, results};
use crate::session::connection::{Connection, RequestError};
use anyhow::{Context, anyhow, bail};
use serde::de::DeserializeOwned;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

/// Attempts at a money request when the connection drops, each with the same idempotency key.
const ATTEMPTS: u32 = 3;

/// How a command that moves money gets the user's yes and PIN: asked on the terminal, or
/// given as flags and standard input by a script.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Consent {
    /// Move the money without asking for confirmation (needed without a terminal)
    #[arg(long)]
    pub yes: bool,
    /// Read the payment PIN from the first line of standard input, not the terminal
    #[arg(long)]
    pub pin_stdin: bool,
}

impl Consent {
    /// Asks `question` unless `--yes` was given; false when the user says no.
    pub(super) fn confirms(&self, question: &str) -> anyhow::Result<bool> {
        Ok(self.yes || confirm(question)?)
    }

    /// The payment PIN, from standard input with `--pin-stdin`, else asked on the terminal.
    pub(super) fn pin(&self) -> anyhow::Result<String> {
        match self.pin_stdin {
            true => pin_from_stdin(),
            false => ask_pin("Payment PIN: "),
        }
    }
}

pub async fn balance(profile: &Profile, json: bool) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let reply: results::Balance = connection.request(RequestBody::Balance).await?;
    if json {
        say!("{}", crate::untrusted::json(&reply)?);
    } else if reply.balances.is_empty() {
        say!("no money yet");
    } else {
        for money in &reply.balances {
            say!("{money}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The amount in the currency given, or else the one currency the user holds. The README's
/// one grammar: `12.50 EUR` as two arguments or one (`'12.50 EUR'`).
pub(super) async fn amount(
    connection: &Connection,
    amount: &str,
    currency: Option<&str>,
) -> anyhow::Result<Money> {
    let (amount, currency) = amount_and_currency(amount, currency)?;
    let currency = match currency {
        Some(code) => Currency::from_code(code).map_err(|e| anyhow!(e))?,
        None => {
            let reply: results::Balance = connection.request(RequestBody::Balance).await?;
            match reply.balances.as_slice() {
                [only] => only.currency,
                _ => bail!("say which currency, e.g. `{amount} EUR`"),
            }
        }
    };
    Ok(Money::parse(amount, currency)?)
}

/// Splits an amount written with its currency in one argument ("12.50 EUR") from a
/// currency given as its own argument.
fn amount_and_currency<'a>(
    amount: &'a str,
    currency: Option<&'a str>,
) -> anyhow::Result<(&'a str, Option<&'a str>)> {
    let mut words = amount.split_whitespace();
    match (words.next(), words.next(), words.next(), currency) {
        (Some(number), Some(code), None, None) => Ok((number, Some(code))),
        (Some(_), Some(code), None, Some(again)) => {
            bail!("{amount:?} already says its currency ({code}); drop the {again:?} after it")
        }
        (Some(_), Some(_), Some(_), _) => {
            bail!("{amount:?} is not an amount: write it like 12.50 or 12.50 EUR")
        }
        _ => Ok((amount, currency)),
    }
}

fn user(target: &str) -> anyhow::Result<String> {
    target
        .strip_prefix('@')
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{target:?}: write the person as @user"))
}

pub async fn pay(
    profile: &Profile,
    to: &str,
    amount_text: &str,
    currency: Option<&str>,
    memo: &str,
    consent: Consent,
    secret: bool,
) -> anyhow::Result<ExitCode> {
    let to = user(to)?;
    let mut sealed = in_secret(profile, &to, secret).await?;
    let connection = connect(profile).await?;
    let amount = amount(&connection, amount_text, currency).await?;
    require_cover(&connection, amount).await?;
    let memo_shown = if memo.is_empty() {
        String::new()
    } else {
        format!(" for {memo:?}")
    };
    if !consent.confirms(&format!("Pay {amount} to {to}{memo_shown}?"))? {
        say!("nothing paid");
        return Ok(ExitCode::FAILURE);
    }
    let key = IdempotencyKey::random();
    let ledger_memo = memo_for_ledger(&sealed, memo, &key);
    let conversation_id = sealed.as_ref().map(|s| s.conversation.id);
    let body = |pin| {
        RequestBody::Pay(requests::Pay {
            to: to.clone(),
            amount,
            memo: ledger_memo.clone(),
            conversation_id,
            idempotency_key: key.clone(),
            pin,
        })
    };
    let paid: results::Paid = with_pin(profile, connection, || consent.pin(), body).await?;
    if let Some(sealed) = sealed.as_mut().filter(|_| !memo.is_empty()) {
        sealed.seal_memo(memo, &ledger_memo).await?;
    }
    say!(
        "paid {} to {} (transfer {}); balance {}",
        paid.transfer.amount,
        to,
        paid.transfer.id,
        paid.balance_after
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn request(
    profile: &Profile,
    from: &str,
    amount_text: &str,
    currency: Option<&str>,
    memo: &str,
    secret: bool,
) -> anyhow::Result<ExitCode> {
    let from = user(from)?;
    let mut sealed = in_secret(profile, &from, secret).await?;
    let connection = connect(profile).await?;
    let amount = amount(&connection, amount_text, currency).await?;
    let key = IdempotencyKey::random();
    let ledger_memo = memo_for_ledger(&sealed, memo, &key);
    let conversation_id = sealed.as_ref().map(|s| s.conversation.id);
    let body = |_| {
        RequestBody::RequestMoney(requests::RequestMoney {
            from: from.clone(),
            amount,
            memo: ledger_memo.clone(),
            conversation_id,
            expires_in_secs: None,
            idempotency_key: key.clone(),
        })
    };
    // Asking moves no money: no PIN, but the same retries with the one idempotency key.
    let made: results::RequestMade =
        with_pin(profile, connection, || Consent::default().pin(), body).await?;
    if let Some(sealed) = sealed.as_mut().filter(|_| !memo.is_empty()) {
        sealed.seal_memo(memo, &ledger_memo).await?;
    }
    say!("asked {from} for {amount} (request {})", made.request.id);
    Ok(ExitCode::SUCCESS)
}

/// With `--secret`, the secret conversation with `other`, its devices checked before money
/// moves.
async fn in_secret(
    profile: &Profile,
    other: &str,
    secret: bool,
) -> anyhow::Result<Option<super::secret::SecretConversation>> {
    if !secret {
        return Ok(None);
    }
    let target = format!("@{other}");
    let mut sealed = super::secret::open(profile, &target, Default::default()).await?;
    sealed.ready().await?;
    Ok(Some(sealed))
}

/// What the ledger keeps as the memo: in a secret conversation, only a reference to the memo
/// that travels sealed.
fn memo_for_ledger(
    sealed: &Option<super::secret::SecretConversation>,
    memo: &str,
    key: &IdempotencyKey,
) -> String {
    match sealed.is_some() && !memo.is_empty() {
        true => crate::protocol::payments::sealed_memo_reference(key),
        false => memo.to_owned(),
    }
}

pub async fn requests(profile: &Profile, json: bool) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let reply: results::Requests = connection.request(RequestBody::Requests).await?;
    if json {
        say!("{}", crate::untrusted::json(&reply)?);
        return Ok(ExitCode::SUCCESS);
    }
    if reply.requests.is_empty() {
        say!("no payment requests");
    }
    for request in &reply.requests {
        say!("{}", describe(request, &profile.username));
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(request: &PaymentRequest, me: &str) -> String {
    let who = if request.payer.username == me {
        format!("{} asks you", request.requester.username)
    } else {
        format!("you ask {}", request.payer.username)
    };
    let memo = if request.memo.is_empty() {
        String::new()
    } else {
        format!(
            "  {:?}",
            crate::untrusted::inert_line(readable_memo(&request.memo))
        )
    };
    format!(
        "#{:<5} {who:<24} {:>12}  {}{memo}",
        request.id,
        request.amount.to_string(),
        request.status.as_str()
    )
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RequestAction {
    Pay,
    Decline,
    Cancel,
}

pub async fn act_on_request(
    profile: &Profile,
    action: RequestAction,
    id: i64,
    consent: Consent,
) -> anyhow::Result<ExitCode> {
    let request_id = PaymentRequestId(id);
    let connection = connect(profile).await?;
    match action {
        RequestAction::Pay => {
            let asked = asked_of_me(&connection, request_id, &profile.username).await?;
            require_cover(&connection, asked.amount).await?;
            let memo = if asked.memo.is_empty() {
                String::new()
            } else {
                format!(
                    " for {:?}",
                    crate::untrusted::inert_line(readable_memo(&asked.memo))
                )
            };
            let question = format!(
                "Pay {} to {}{memo} (request {id})?",
                asked.amount, asked.requester.username
            );
            if !consent.confirms(&question)? {
                say!("nothing paid");
                return Ok(ExitCode::FAILURE);
            }
            let key = IdempotencyKey::random();
            let body = |pin| {
                RequestBody::PayRequest(requests::PayRequest {
                    request_id,
                    idempotency_key: key.clone(),
                    pin,
                })
            };
            let paid: results::Paid = with_pin(profile, connection, || consent.pin(), body).await?;
            say!(
                "paid request {id}: {}; balance {}",
                paid.transfer.amount,
                paid.balance_after
            );
        }
        RequestAction::Decline => {
            let _: results::RequestMade = connection
                .request(RequestBody::DeclineRequest(requests::DeclineRequest {
                    request_id,
                }))
                .await?;
            say!("declined request {id}");
        }
        RequestAction::Cancel => {
            let _: results::RequestMade = connection
                .request(RequestBody::CancelRequest(requests::CancelRequest {
                    request_id,
                }))
                .await?;
            say!("cancelled request {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses, before the confirmation, a payment the wallet cannot cover.
pub(super) async fn require_cover(connection: &Connection, amount: Money) -> anyhow::Result<()> {
    let reply: results::Balance = connection.request(RequestBody::Balance).await?;
    match crate::money::shortfall(&reply.balances, amount) {
        Some(why) => bail!("{why}; nothing paid"),
        None => Ok(()),
    }
}

/// The open request `id` that someone asked of `me`: what the confirmation shows.
async fn asked_of_me(
    connection: &Connection,
    id: PaymentRequestId,
    me: &str,
) -> anyhow::Result<PaymentRequest> {
    let list: results::Requests = connection.request(RequestBody::Requests).await?;
    list.requests
        .into_iter()
        .find(|r| r.id == id && r.payer.username == me)
        .ok_or_else(|| anyhow!("no request {id} asked of you; `quid requests` lists them"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatementFormat {
    Text,
    Csv,
    Json,
}

pub async fn statement(profile: &Profile, format: StatementFormat) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let mut lines = Vec::new();
    let mut before = None;
    loop {
        let page: results::Statement = connection
            .request(RequestBody::Statement(requests::Statement {
                before,
                limit: requests::MAX_STATEMENT_LIMIT,
            }))
            .await?;
        before = page.lines.last().map(|l| l.transfer_id);
        lines.extend(page.lines);
        if !page.has_more {
            break;
        }
    }
    match format {
        StatementFormat::Json => say!("{}", crate::untrusted::json(&lines)?),
        StatementFormat::Csv => crate::export::statement_csv(&lines, std::io::stdout())?,
        StatementFormat::Text if lines.is_empty() => say!("no transactions yet"),
        StatementFormat::Text => {
            for line in &lines {
                let when = chrono::DateTime::from_timestamp_millis(line.at.0)
                    .map(|t| {
                        t.with_timezone(&chrono::Local)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default();
                let sign = if line.amount.amount_minor > 0 {
                    "+"
                } else {
                    ""
                };
                let who =
                    line.counterparty
                        .as_ref()
                        .map_or(line.kind.unnamed_side().to_owned(), |u| {
                            let direction = if line.amount.amount_minor > 0 {
                                "from"
                            } else {
                                "to"
                            };
                            format!("{direction} {}", u.username)
                        });
                say!(
                    "{when}  {:>14}  {who:<20} balance {:>14}  {}",
                    format!("{sign}{}", line.amount),
                    line.balance_after.to_string(),
                    crate::untrusted::inert_line(readable_memo(&line.memo))
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends a money request; asks for the PIN when the account has one, and retries with the
/// same idempotency key (so at most once) when the connection drops.
pub(super) async fn with_pin<T: DeserializeOwned>(
    profile: &Profile,
    mut connection: Connection,
    ask_pin: impl Fn() -> anyhow::Result<String>,
    body: impl Fn(Option<String>) -> RequestBody,
) -> anyhow::Result<T> {
    let mut pin = None;
    let mut attempt = 1;
    loop {
        match connection.request::<T>(body(pin.clone())).await {
            Ok(reply) => return Ok(reply),
            Err(RequestError::Api(e)) if e.code == ErrorCode::PinRequired && pin.is_none() => {
                pin = Some(ask_pin()?);
            }
            Err(RequestError::Disconnected) if attempt < ATTEMPTS => {
                attempt += 1;
                connection = connect(profile).await.context("reconnecting to retry")?;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// `quid pin`: sets the payment PIN (asking for the current one when there is one, or with
/// `--forgot` for the account's password instead).
///
/// With `--pin-stdin` the first line is the new PIN and, when the account has one, the second
/// line the current one (or the password).
pub async fn set_pin(profile: &Profile, pin_stdin: bool, forgot: bool) -> anyhow::Result<ExitCode> {
    let pin = if pin_stdin {
        pin_from_stdin()?
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to ask for the PIN on; pass --pin-stdin and pipe it in");
        }
        new_pin_from_terminal()?
    };
    validate_pin(&pin).map_err(|e| anyhow!("{}; nothing changed", e.message))?;
    let connection = connect(profile).await?;
    if forgot {
        let password = match pin_stdin {
            true => super::line_from_stdin("password", "--pin-stdin (second line)")?,
            false => rpassword::prompt_password(format!("Password of {}: ", profile.username))
                .context("cannot read the password")?,
        };
        let body = RequestBody::SetPin(requests::SetPin {
            pin,
            current_pin: None,
            password: Some(password),
        });
        let _: results::Empty = connection.request(body).await?;
        say!(
            "payment PIN set with your password: payments from {} are unlocked and need it",
            profile.username
        );
        return Ok(ExitCode::SUCCESS);
    }
    let current_pin = || match pin_stdin {
        true => pin_from_stdin()
            .context("this account has a PIN: give the current one on the second line"),
        false => ask_pin("Current payment PIN: "),
    };
    let body = |current_pin| {
        RequestBody::SetPin(requests::SetPin {
            pin: pin.clone(),
            current_pin,
            password: None,
        })
    };
    let _: results::Empty = with_pin(profile, connection, current_pin, body).await?;
    say!(
        "payment PIN set: payments from {} now need it",
        profile.username
    );
    Ok(ExitCode::SUCCESS)
}

/// Asks for the new PIN twice, refusing one that breaks the rules before asking again.
fn new_pin_from_terminal() -> anyhow::Result<String> {
    let pin = rpassword::prompt_password("New payment PIN (4 to 12 digits): ")
        .context("cannot read the PIN")?;
    validate_pin(&pin).map_err(|e| anyhow!("{}; nothing changed", e.message))?;
    let again = rpassword::prompt_password("New PIN again: ").context("cannot read the PIN")?;
    if pin != again {
        bail!("the two PINs differ; nothing changed");
    }
    Ok(pin)
}

fn ask_pin(prompt: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "this account needs its payment PIN; run the command in a terminal to enter it, \
             or pass --pin-stdin and pipe it in"
        );
    }
    rpassword::prompt_password(prompt).context("cannot read the PIN")
}

/// The next line of standard input, as a PIN.
fn pin_from_stdin() -> anyhow::Result<String> {
    super::line_from_stdin("PIN", "--pin-stdin")
}

pub(super) fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question} Add --yes to confirm without a terminal");
    }
    super::output::prompt(&format!("{question} [y/N]"))?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_from_either_side() {
        use crate::protocol::payments::RequestStatus;
        let user = |id, name: &str| crate::protocol::User::new(crate::protocol::UserId(id), name);
        let request = PaymentRequest {
            id: PaymentRequestId(3),
            conversation_id: crate::protocol::ConversationId(1),
            requester: user(1, "alice"),
            payer: user(2, "bob"),
            amount: Money::new(500, Currency::from_code("EUR").unwrap()),
            memo: "lunch".into(),
            status: RequestStatus::Open,
            expires_at: None,
            created_at: crate::protocol::TimestampMs(0),
            transfer_id: None,
        };
        assert!(describe(&request, "bob").contains("alice asks you"));
        assert!(describe(&request, "alice").contains("you ask bob"));
        assert!(describe(&request, "alice").contains("€5.00"));
    }
}
