//! `quid secret @user TEXT` and `quid history @user --secret`: secret conversations from the
//! command line. The profile's secret store is opened with its key file, or with the
//! passphrase it was made with (asked on the terminal, or `--passphrase-stdin`).

use super::chat::{Shown, connect_as, format_message_with};
use crate::config::Profile;
use crate::protocol::payments::Card;
use crate::protocol::{ClientMsgId, Message};
use crate::protocol::{Conversation, RequestBody, requests, results};
use crate::secret::SecretError;
use crate::secret::device::fingerprint;
use crate::secret::endpoint::Endpoint;
use crate::secret::message::Opened;
use crate::secret::message::describe_timer;
use crate::secret::vault::{Unlock, Vault};
use crate::session::connection::{ConnectError, Connection};
use crate::session::secret;
use anyhow::{Context, anyhow, bail};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::process::ExitCode;

/// How the secret store is unlocked.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Passphrase {
    /// Read the secret store's passphrase from a line of standard input (the second, after the
    /// password's, with --password-stdin); when the store is new, it is made with this
    /// passphrase rather than a key file
    #[arg(long)]
    pub passphrase_stdin: bool,
}

impl Passphrase {
    pub(super) fn unlock(&self, profile: &Profile) -> anyhow::Result<Unlock> {
        if self.passphrase_stdin {
            let passphrase = super::line_from_stdin("passphrase", "--passphrase-stdin")?;
            return Ok(Unlock::Passphrase(passphrase));
        }
        if !Vault::wants_passphrase(&profile.data_dir)? {
            return Ok(Unlock::KeyFile);
        }
        if !std::io::stdin().is_terminal() {
            bail!(
                "the secret store of profile {} is protected by a passphrase; run this in a \
                 terminal to enter it, or pass --passphrase-stdin and pipe it in",
                profile.name
            );
        }
        let passphrase = rpassword::prompt_password("Passphrase of your secret store: ")
            .context("cannot read the passphrase")?;
        Ok(Unlock::Passphrase(passphrase))
    }
}

/// This profile's endpoint, published, with a connection as `me`, and the secret
/// conversation with `target` (`@user`).
pub(super) struct SecretConversation {
    connection: Connection,
    endpoint: Endpoint,
    me: String,
    other: String,
    pub(super) conversation: Conversation,
}

pub(super) async fn open(
    profile: &Profile,
    target: &str,
    unlock: Passphrase,
) -> anyhow::Result<SecretConversation> {
    let Some(other) = target.strip_prefix('@').filter(|name| !name.is_empty()) else {
        bail!("a secret conversation is with one person: @user, not {target:?}");
    };
    let unlock = unlock.unlock(profile)?;
    let (connection, me) = connect_as(profile).await?;
    let mut endpoint = Endpoint::open(&profile.data_dir, &me.username, &unlock)?;
    secret::publish(&connection, &mut endpoint).await?;
    let opened: results::OneConversation = connection
        .request(RequestBody::OpenSecret(requests::OpenSecret {
            username: other.to_owned(),
        }))
        .await
        .with_context(|| format!("secret conversation with @{other}"))?;
    if !opened.conversation.secret {
        bail!(
            "the server answered with conversation {}, which is not secret: refused (nothing \
             was sent)",
            opened.conversation.id
        );
    }
    endpoint.note_secret(opened.conversation.id)?;
    Ok(SecretConversation {
        connection,
        endpoint,
        me: me.username,
        other: other.to_owned(),
        conversation: opened.conversation,
    })
}

/// `quid secret @user TEXT`.
pub async fn send(
    profile: &Profile,
    target: &str,
    text: &str,
    unlock: Passphrase,
) -> anyhow::Result<ExitCode> {
    crate::protocol::model::validate_text(text).map_err(|e| anyhow!(e.message))?;
    let mut opened = open(profile, target, unlock).await.map_err(|error| {
        match error.downcast_ref::<ConnectError>() {
            // Sealing needs the devices the server lists now, and the command line has no
            // session to send it later: say so, rather than leave it to guess.
            Some(_) => error.context(
                "nothing was sent: a secret message from the command line needs the server (in \
                 the TUI one written offline waits, encrypted, and goes once connected)",
            ),
            None => error,
        }
    })?;
    let to = secret::To {
        me: &opened.me,
        other: &opened.other,
        conversation_id: opened.conversation.id,
        client_id: crate::protocol::ClientMsgId::random(),
    };
    let sent = secret::send(&opened.connection, &mut opened.endpoint, to, text).await;
    let sent = sent.map_err(|e| opened.explain(e))?;
    say!("sent to @{} in secret (message {})", opened.other, sent.id);
    Ok(ExitCode::SUCCESS)
}

/// `quid secret @user --timer DURATION|off`.
pub async fn set_timer(
    profile: &Profile,
    target: &str,
    seconds: u32,
    unlock: Passphrase,
) -> anyhow::Result<ExitCode> {
    let mut opened = open(profile, target, unlock).await?;
    let to = secret::To {
        me: &opened.me,
        other: &opened.other,
        conversation_id: opened.conversation.id,
        client_id: crate::protocol::ClientMsgId::random(),
    };
    let sent = secret::send_timer(&opened.connection, &mut opened.endpoint, to, seconds).await;
    sent.map_err(|e| opened.explain(e))?;
    say!("{} with @{}", describe_timer(seconds), opened.other);
    Ok(ExitCode::SUCCESS)
}

impl SecretConversation {
    /// Checks the other person's devices (and claims keys) before money moves, so that a
    /// changed key stops the payment rather than its memo.
    pub(super) async fn ready(&mut self) -> anyhow::Result<()> {
        let ready =
            secret::recipients(&self.connection, &mut self.endpoint, &self.me, &self.other).await;
        ready.map_err(|e| self.explain(e))?;
        Ok(())
    }

    /// Sends a payment's memo sealed, beside its card: the message the card's `reference`
    /// names.
    pub(super) async fn seal_memo(&mut self, memo: &str, reference: &str) -> anyhow::Result<()> {
        let client_id = crate::protocol::payments::sealed_memo_client_id(reference)
            .context("a sealed memo goes with a card whose memo is its reference")?;
        let to = secret::To {
            me: &self.me,
            other: &self.other,
            conversation_id: self.conversation.id,
            client_id,
        };
        let memo = format!("memo: {memo}");
        let sent = secret::send(&self.connection, &mut self.endpoint, to, &memo).await;
        sent.map_err(|e| self.explain(e))?;
        Ok(())
    }
}

/// `quid secret @user --accept-keys`: pins exactly the new devices the last warning showed,
/// the user's and their own; refused when the server's list changed since.
pub async fn accept_keys(
    profile: &Profile,
    target: &str,
    unlock: Passphrase,
) -> anyhow::Result<ExitCode> {
    let mut opened = open(profile, target, unlock).await?;
    let (connection, endpoint) = (&opened.connection, &mut opened.endpoint);
    let theirs = secret::accept_devices(connection, endpoint, &opened.other).await;
    let theirs = theirs.map_err(|e| opened.explain(e))?;
    // Your own devices too: a new one of yours stops sending as well.
    let (connection, endpoint) = (&opened.connection, &mut opened.endpoint);
    let yours = secret::accept_devices(connection, endpoint, &opened.me).await;
    let yours = yours.map_err(|e| opened.explain(e))?;
    if theirs.is_empty() && yours.is_empty() {
        say!("no new device to accept for @{} or you", opened.other);
    }
    for (whose, devices) in [
        (format!("@{}", opened.other), theirs),
        ("you".into(), yours),
    ] {
        for device in devices {
            say!("accepted for {whose}: device {}", fingerprint(&device));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `quid history @user --secret`: the secret conversation, decrypted here.
pub async fn history(
    profile: &Profile,
    target: &str,
    shown: Shown,
    unlock: Passphrase,
) -> anyhow::Result<ExitCode> {
    let mut opened = open(profile, target, unlock).await?;
    let page: results::History = opened
        .connection
        .request(RequestBody::History(requests::History {
            conversation_id: opened.conversation.id,
            before: None,
            limit: shown.limit,
        }))
        .await?;
    let now = crate::protocol::TimestampMs::now();
    opened.endpoint.forget_expired(now)?;
    let mut lines = Vec::new();
    // Messages that disappeared: they leave no line, and a card whose memo one carried says so.
    let mut expired = HashSet::new();
    for message in &page.messages {
        // The server's time for it, whether or not it has deleted the ciphertext yet (this
        // device may have forgotten its copy already).
        if message.expires_at.is_some_and(|at| at <= now) {
            expired.insert(message.client_id);
            continue;
        }
        let text = match (message.deleted, &message.sealed) {
            (true, _) => Some(Opened::Text("(message deleted)".into())),
            // Plain text here is the server's, whoever it names (the one rule the TUI's session
            // applies too); a payment's card is the ledger's view of it, memo a reference.
            (false, None) => Some(match opened.endpoint.plain_in_secret(message)? {
                Some(why) => Opened::Unreadable(why),
                None => Opened::Text(super::chat::describe(message)),
            }),
            (false, Some(_)) => secret::read(&opened.connection, &mut opened.endpoint, message)
                .await
                .map_err(|e| opened.explain(e))?
                // A disappearing message whose time is up is not shown.
                .filter(|read| {
                    let gone = read.expires_at.is_some_and(|at| at <= now);
                    if gone {
                        expired.insert(message.client_id);
                    }
                    !gone
                })
                .map(|read| read.opened),
        };
        // A replay is dropped, not shown; so is a verification step not worth a line.
        let Some(text) = text else { continue };
        if matches!(&text, Opened::Verify(step) if !step.is_worth_a_line()) {
            continue;
        }
        lines.push((message, text));
    }
    let lines = with_expired_memos(lines, &expired);
    print_history(&lines, shown.json, &opened.other)?;
    if let Some(newest) = page.messages.last().filter(|_| shown.mark_read) {
        let _: results::Empty = opened
            .connection
            .request(RequestBody::MarkRead(requests::MarkRead {
                conversation_id: opened.conversation.id,
                up_to: newest.id,
            }))
            .await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints what was read, as JSON or as lines.
fn print_history(lines: &[(&Message, Opened)], json: bool, other: &str) -> anyhow::Result<()> {
    if json {
        let json: Vec<serde_json::Value> = lines
            .iter()
            .map(|(message, text)| {
                let (key, value) = match text {
                    Opened::Text(text) => ("text", text.clone()),
                    Opened::Verify(step) => ("text", step.describe()),
                    Opened::Timer(seconds) => ("text", describe_timer(*seconds)),
                    Opened::Unreadable(why) => ("unreadable", why.clone()),
                };
                serde_json::json!({
                    "id": message.id, "sender": message.sender.username,
                    "sent_at": message.sent_at, key: value,
                })
            })
            .collect();
        say!("{}", crate::untrusted::json(&json)?);
    } else if lines.is_empty() {
        say!("no secret messages with @{} yet", other);
    } else {
        for (message, text) in lines {
            let text = match text {
                Opened::Text(text) => crate::untrusted::inert(text),
                Opened::Verify(step) => crate::untrusted::inert(&step.describe()),
                Opened::Timer(seconds) => describe_timer(*seconds),
                Opened::Unreadable(why) => format!("(cannot be read: {why})"),
            };
            say!("{}", format_message_with(message, text));
        }
    }
    Ok(())
}

/// The lines as shown, a card whose sealed memo's message disappeared saying so.
fn with_expired_memos<'a>(
    lines: Vec<(&'a Message, Opened)>,
    expired: &HashSet<ClientMsgId>,
) -> Vec<(&'a Message, Opened)> {
    let memo_gone = |message: &Message| {
        let memo = message
            .card
            .as_deref()
            .and_then(Card::sealed_memo_client_id);
        memo.is_some_and(|memo| expired.contains(&memo))
    };
    let shown = |message: &'a Message, text| match memo_gone(message) {
        true => {
            let mut shown = message.clone();
            if let Some(card) = shown.card.as_deref_mut() {
                card.mark_memo_expired();
            }
            (message, Opened::Text(super::chat::describe(&shown)))
        }
        false => (message, text),
    };
    lines
        .into_iter()
        .map(|(message, text)| shown(message, text))
        .collect()
}

impl SecretConversation {
    /// A changed key says what to do about it on the command line (accepting is done from the
    /// conversation, with the other person, for their devices and the user's own alike).
    fn explain(&self, error: secret::SecretLinkError) -> anyhow::Error {
        match error {
            secret::SecretLinkError::Secret(
                changed @ (SecretError::KeysChanged { .. } | SecretError::ListChanged { .. }),
            ) => anyhow!(
                "{changed}: `quid secret @{} --accept-keys`. Nothing was sent or shown.",
                self.other
            ),
            other => other.into(),
        }
    }
}
