//! `quid send`, `quid history`, `quid conversations`, `quid group create`.

use crate::config::Profile;
use crate::protocol::payments::Card;
use crate::protocol::requests;
use crate::protocol::{ClientMsgId, ConversationKind, Message, MessageId, RequestBody, results};
use crate::session::backoff::Backoff;
use crate::session::connection::{ConnectError, Connection};
use crate::session::target::Target;
use crate::session::{Session, SessionConfig, SessionEvent, state};
use anyhow::{Context, anyhow, bail};
use std::process::ExitCode;
use std::time::Duration;

/// How long `quid send` waits for the server before leaving the message in the outbox.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

pub(super) fn token(profile: &Profile) -> anyhow::Result<String> {
    state::read_token(&profile.data_dir)?.ok_or_else(|| {
        anyhow!(
            "profile {} is not logged in; run `quid --profile {} login` (or register)",
            profile.name,
            profile.name
        )
    })
}

fn not_logged_in(profile: &Profile, reason: &str) -> anyhow::Error {
    anyhow!(
        "the server refused profile {}'s session ({reason}); run `quid --profile {} login`",
        profile.name,
        profile.name
    )
}

/// A connection for one command: no event stream, just requests.
pub(super) async fn connect(profile: &Profile) -> anyhow::Result<Connection> {
    Ok(connect_as(profile).await?.0)
}

/// As `connect`, with the user the server says the profile is.
pub(super) async fn connect_as(
    profile: &Profile,
) -> anyhow::Result<(Connection, crate::protocol::User)> {
    let token = token(profile)?;
    let (connection, _) =
        match Connection::open_trusting(&profile.server, profile.ca_file.as_deref(), Some(&token))
            .await
        {
            Ok(opened) => opened,
            Err(ConnectError::Unauthorized(reason)) => return Err(not_logged_in(profile, &reason)),
            Err(error) => return Err(error.into()),
        };
    let hello = connection.hello(None).await?;
    let user = hello
        .user
        .ok_or_else(|| not_logged_in(profile, "the connection stayed anonymous"))?;
    Ok((connection, user))
}

pub(super) fn parse_target(text: &str) -> anyhow::Result<Target> {
    text.parse::<Target>().map_err(|e| anyhow!(e))
}

/// Queues the message in the profile's outbox and waits until the server has it. Messages
/// queued earlier (while offline) go first.
pub async fn send(
    profile: &Profile,
    target: &str,
    text: &str,
    reply_to: Option<MessageId>,
) -> anyhow::Result<ExitCode> {
    let target = parse_target(target)?;
    crate::protocol::model::validate_text(text).map_err(|e| anyhow!(e.message))?;
    let config = SessionConfig {
        server: profile.server.clone(),
        ca_file: profile.ca_file.clone(),
        token: token(profile)?,
        state_dir: profile.data_dir.clone(),
        subscribe: false,
        backoff: Backoff::default(),
        secret: None,
    };
    let (session, mut events) = Session::start(config)?;
    let client_id = session
        .send_message_as(
            ClientMsgId::random(),
            target.clone(),
            text.to_owned(),
            reply_to,
        )
        .await?;
    let queued =
        "the message stays in the outbox and is sent, once, the next time this profile connects";
    let waited = tokio::time::timeout(SEND_TIMEOUT, async {
        while let Some(event) = events.recv().await {
            match event {
                SessionEvent::Sent {
                    client_id: id,
                    message,
                } if id == client_id => return Ok(message),
                SessionEvent::SendRefused {
                    client_id: id,
                    error,
                    ..
                } if id == client_id => {
                    bail!("{target}: {}", error.message)
                }
                SessionEvent::Disconnected { reason, .. } => {
                    bail!("cannot reach {}: {reason}; {queued}", profile.server)
                }
                SessionEvent::AuthRejected { reason } => {
                    return Err(not_logged_in(profile, &reason));
                }
                SessionEvent::Failed { reason } => bail!("{reason}"),
                _ => {}
            }
        }
        bail!("the session stopped before the message was sent; {queued}")
    })
    .await;
    let message = waited.map_err(|_| {
        anyhow!(
            "no answer from {} in {}s; {queued}",
            profile.server,
            SEND_TIMEOUT.as_secs()
        )
    })??;
    // The target is the user's own argument: shown inert like anything else.
    let target = crate::untrusted::inert_line(&target.to_string());
    say!("sent to {target} (message {})", message.id);
    Ok(ExitCode::SUCCESS)
}

/// How `quid history` shows a conversation.
pub struct Shown {
    pub limit: u32,
    pub json: bool,
    /// Move the read marker to the newest message shown.
    pub mark_read: bool,
}

pub async fn history(profile: &Profile, target: &str, shown: Shown) -> anyhow::Result<ExitCode> {
    let Shown {
        limit,
        json,
        mark_read,
    } = shown;
    let target = parse_target(target)?;
    let connection = connect(profile).await?;
    let conversation_id = target
        .resolve(&connection)
        .await
        .with_context(|| target.to_string())?;
    let page: results::History = connection
        .request(RequestBody::History(requests::History {
            conversation_id,
            before: None,
            limit,
        }))
        .await?;
    if json {
        say!("{}", crate::untrusted::json(&page)?);
    } else if page.messages.is_empty() {
        say!("no messages with {target} yet");
    } else {
        for message in &page.messages {
            say!("{}", format_message(message));
        }
    }
    if let Some(newest) = page.messages.last().filter(|_| mark_read) {
        let _: results::Empty = connection
            .request(RequestBody::MarkRead(requests::MarkRead {
                conversation_id,
                up_to: newest.id,
            }))
            .await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Edits, deletes or reacts (`body`), and prints the message as it is afterwards.
pub async fn change(profile: &Profile, body: RequestBody) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let changed: results::OneMessage = connection.request(body).await?;
    say!("{}", format_message(&changed.message));
    Ok(ExitCode::SUCCESS)
}

/// `[2026-11-25 19:31] #41 alice: text (edited)`, continuation lines indented under the
/// text; a reply's quote above, reactions below.
fn format_message(message: &Message) -> String {
    let mut text = match message.deleted && message.card.is_none() {
        true => "(message deleted)".to_owned(),
        false => describe(message),
    };
    if message.edited_at.is_some() && !message.deleted {
        text.push_str(" (edited)");
    }
    let mut shown = format_message_with(message, text);
    if let Some(quote) = message.reply_to.as_deref() {
        let quoted = match quote.deleted {
            true => "(message deleted)".to_owned(),
            false => crate::untrusted::inert_line(&quote.text),
        };
        let line = format!(
            "  ↳ #{} {}: {quoted}",
            quote.id,
            crate::untrusted::inert_line(&quote.sender.username)
        );
        shown = format!("{line}\n{shown}");
    }
    if !message.reactions.is_empty() {
        let reactions: Vec<String> = message
            .reactions
            .iter()
            .map(|r| {
                let names: Vec<&str> = r.users.iter().map(|u| u.username.as_str()).collect();
                format!(
                    "{} {}",
                    crate::untrusted::inert_line(&r.emoji),
                    names.join(", ")
                )
            })
            .collect();
        shown.push_str(&format!("\n  {}", reactions.join("  ")));
    }
    shown
}

/// As `format_message`, with `text` (already inert) in place of the message's.
pub(super) fn format_message_with(message: &Message, text: String) -> String {
    let prefix = message_prefix(message);
    let indent = " ".repeat(prefix.chars().count());
    format!("{prefix}{}", text.replace('\n', &format!("\n{indent}")))
}

/// `[2026-11-25 19:31] #41 alice: `, what a message's line starts with.
pub(super) fn message_prefix(message: &Message) -> String {
    let when = chrono::DateTime::from_timestamp_millis(message.sent_at.0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "????-??-?? ??:??".into());
    format!("[{when}] #{} {}: ", message.id, message.sender.username)
}

/// What a message says as one text: its card described, or its text (inert).
pub(super) fn describe(message: &Message) -> String {
    let text = crate::untrusted::inert(&message.text);
    match (message.card.as_deref(), message.file.as_deref()) {
        (Some(card), _) => describe_card(card),
        (None, Some(file)) if text.is_empty() => describe_file(file),
        (None, Some(file)) => format!("{} {text}", describe_file(file)),
        (None, None) => text,
    }
}

/// `[file: bill.jpg, 210 KB]`, as `quid history` and `quid send` show a file (its name inert).
pub(super) fn describe_file(file: &crate::protocol::files::FileRef) -> String {
    format!(
        "[file: {}, {}]",
        crate::untrusted::inert_line(&file.name),
        crate::protocol::files::human_size(file.size)
    )
}

/// A card as one line of text, in its current state: "[invoice 3: €9.80, paid]".
fn describe_card(card: &Card) -> String {
    let inert = crate::untrusted::inert_line;
    let memo = |memo: &str| {
        if memo.is_empty() {
            String::new()
        } else {
            format!(" \"{}\"", inert(memo))
        }
    };
    match card {
        Card::Payment { transfer } => format!(
            "[paid {} to {}{}]",
            transfer.amount,
            inert(&transfer.to.username),
            memo(crate::protocol::payments::readable_memo(&transfer.memo))
        ),
        Card::Request { request } => format!(
            "[request {}: {} from {}{}, {}]",
            request.id,
            request.amount,
            inert(&request.payer.username),
            memo(crate::protocol::payments::readable_memo(&request.memo)),
            request.status.as_str()
        ),
        Card::Invoice { invoice } => {
            let items: Vec<String> = invoice
                .items
                .iter()
                .map(|i| format!("{} × {}", i.quantity, inert(&i.name)))
                .collect();
            format!(
                "[invoice {}: {} for {}, {}]",
                invoice.id,
                invoice.total,
                items.join(", "),
                invoice.status.as_str()
            )
        }
        Card::Refund {
            transfer,
            invoice_id,
        } => format!("[refunded {} of invoice {invoice_id}]", transfer.amount),
    }
}

pub async fn conversations(profile: &Profile, json: bool) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let list: results::Conversations = connection.request(RequestBody::Conversations).await?;
    if json {
        say!("{}", crate::untrusted::json(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if list.conversations.is_empty() {
        say!("no conversations yet; start one with `quid send @user TEXT`");
    }
    for conversation in &list.conversations {
        let name = match conversation.kind {
            ConversationKind::Direct => format!("@{}", conversation.name),
            ConversationKind::Group => format!("#{}", conversation.name),
        };
        let bot = conversation
            .members
            .iter()
            .find(|m| m.bot && m.username == conversation.name);
        let members = match (conversation.kind, bot) {
            (ConversationKind::Direct, Some(bot)) => match &bot.merchant {
                Some(business) => format!(
                    "  ({}, merchant bot)",
                    crate::untrusted::inert_line(business)
                ),
                None => "  (bot)".to_owned(),
            },
            (ConversationKind::Direct, None) => String::new(),
            (ConversationKind::Group, _) => match conversation.members.len() {
                1 => "  1 member".to_owned(),
                n => format!("  {n} members"),
            },
        };
        let unread = match conversation.unread {
            0 => String::new(),
            n => format!("  {n} unread"),
        };
        let mentions = match conversation.unread_mentions {
            0 => String::new(),
            1 => " (1 mentions you)".to_owned(),
            n => format!(" ({n} mention you)"),
        };
        let muted = if conversation.muted { "  muted" } else { "" };
        say!(
            "{}{members}{unread}{mentions}{muted}",
            crate::untrusted::inert_line(&name)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn mute(profile: &Profile, target: &str, muted: bool) -> anyhow::Result<ExitCode> {
    let target = parse_target(target)?;
    let connection = connect(profile).await?;
    let conversation_id = target
        .resolve(&connection)
        .await
        .with_context(|| target.to_string())?;
    let _: results::OneConversation = connection
        .request(RequestBody::Mute(requests::Mute {
            conversation_id,
            muted,
        }))
        .await?;
    let done = if muted { "muted" } else { "unmuted" };
    say!(
        "{done} {}",
        crate::untrusted::inert_line(&target.to_string())
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn create_group(
    profile: &Profile,
    name: &str,
    members: &[String],
) -> anyhow::Result<ExitCode> {
    let usernames = members
        .iter()
        .map(|m| match m.parse::<Target>() {
            Ok(Target::User(user)) => Ok(user),
            _ => Err(anyhow!("member {m:?} must be written @user")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let connection = connect(profile).await?;
    let created: results::OneConversation = connection
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: name.to_owned(),
            members: usernames,
        }))
        .await?;
    let conversation = created.conversation;
    let names: Vec<_> = conversation
        .members
        .iter()
        .map(|m| m.username.as_str())
        .collect();
    let inert = crate::untrusted::inert_line;
    say!(
        "created #{} with {}",
        inert(&conversation.name),
        inert(&names.join(", "))
    );
    Ok(ExitCode::SUCCESS)
}
