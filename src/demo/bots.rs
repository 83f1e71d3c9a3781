//! The demo's bots: bob answers alice's direct messages, carol answers in groups and in her
//! own direct conversation, and the coffee shop sells coffee. Each is a real session, so it reconnects and resumes like any client.

use super::seed::Tokens;
use crate::protocol::payments::{Card, IdempotencyKey, RequestStatus};
use crate::protocol::requests;
use crate::protocol::{
    ConversationId, ConversationKind, Event, Message, RequestBody, TimestampMs, results,
};
use crate::session::backoff::Backoff;
use crate::session::target::Target;
use crate::session::{Session, SessionConfig, SessionEvent};
use std::path::Path;
use std::time::Duration;
use url::Url;

/// How long a bot "types" before answering: long enough to see, short enough to feel quick.
const THINKING: Duration = Duration::from_millis(600);

pub struct Bots {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Bots {
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

pub fn start(url: &Url, tokens: &Tokens, workdir: &Path) -> anyhow::Result<Bots> {
    let mut tasks = Vec::new();
    for (name, token, answers_in_groups) in
        [("bob", &tokens.bob, false), ("carol", &tokens.carol, true)]
    {
        let (session, events) = Session::start(SessionConfig {
            server: url.clone(),
            ca_file: None,
            token: token.clone(),
            state_dir: workdir.join(name),
            subscribe: true,
            backoff: Backoff::default(),
            secret: None,
        })?;
        tasks.push(tokio::spawn(run(name, answers_in_groups, session, events)));
    }
    let coffee =
        crate::bot::Bot::connect(url.clone(), tokens.coffee.clone(), workdir.join("coffee"))?;
    tasks.push(tokio::spawn(crate::bot::coffee_shop::run(coffee)));
    Ok(Bots { tasks })
}

async fn run(
    name: &'static str,
    answers_in_groups: bool,
    session: Session,
    mut events: tokio::sync::mpsc::Receiver<SessionEvent>,
) {
    // Messages from before the bot started are history, answered long ago (or never needing
    // it). Judged by time, not by the end of replay: a message sent while the bot is still
    // catching up is new and gets its answer.
    let started = TimestampMs::now();
    while let Some(event) = events.recv().await {
        match event {
            SessionEvent::Event {
                event: Event::Message { message },
                ..
            } if message.sent_at >= started
                && message.sender.username != name
                && should_answer(&session, &message, answers_in_groups).await =>
            {
                match message.card.as_deref() {
                    Some(card) => settle(&session, name, &message, card).await,
                    None => answer(&session, name, &message).await,
                }
            }
            _ => {}
        }
    }
}

async fn should_answer(session: &Session, message: &Message, answers_in_groups: bool) -> bool {
    let Ok(list) = session
        .request::<results::Conversations>(RequestBody::Conversations)
        .await
    else {
        return false;
    };
    let kind = list
        .conversations
        .iter()
        .find(|c| c.id == message.conversation_id)
        .map(|c| c.kind);
    match kind {
        Some(ConversationKind::Direct) => true,
        Some(ConversationKind::Group) => answers_in_groups,
        None => false,
    }
}

async fn answer(session: &Session, name: &str, message: &Message) {
    let conversation_id: ConversationId = message.conversation_id;
    // Read first, so the sender sees ✓✓ before the answer comes.
    let read = RequestBody::MarkRead(requests::MarkRead {
        conversation_id,
        up_to: message.id,
    });
    let _: Result<results::Empty, _> = session.request(read).await;
    let _: Result<results::Empty, _> = session
        .request(RequestBody::Typing(requests::Typing { conversation_id }))
        .await;
    tokio::time::sleep(THINKING).await;
    let text = reply(name, &message.sender.username, &message.text);
    if let Err(error) = session
        .send_message(Target::Conversation(conversation_id), text)
        .await
    {
        tracing::warn!(%error, bot = name, "demo bot cannot answer");
    }
}

/// A bot's answer to a card: thanks for money received; a request to it is paid by bob
/// and declined by carol, so both paths can be seen.
async fn settle(session: &Session, name: &str, message: &Message, card: &Card) {
    let conversation_id = message.conversation_id;
    let text = match card {
        Card::Payment { transfer } if transfer.to.username == name => {
            format!("thank you for the {}! 🙏", transfer.amount)
        }
        Card::Request { request }
            if request.payer.username == name && request.status == RequestStatus::Open =>
        {
            tokio::time::sleep(THINKING).await;
            let request_id = request.id;
            let outcome = if name == "bob" {
                let body = RequestBody::PayRequest(requests::PayRequest {
                    request_id,
                    idempotency_key: IdempotencyKey::random(),
                    pin: None,
                });
                session
                    .request::<results::Paid>(body)
                    .await
                    .map(|_| format!("paid, {} sent ✓", request.amount))
            } else {
                let body = RequestBody::DeclineRequest(requests::DeclineRequest { request_id });
                session
                    .request::<results::RequestMade>(body)
                    .await
                    .map(|_| "not this time, sorry 🙂".to_owned())
            };
            outcome.unwrap_or_else(|error| format!("I could not settle that: {error}"))
        }
        _ => return,
    };
    if let Err(error) = session
        .send_message(Target::Conversation(conversation_id), text)
        .await
    {
        tracing::warn!(%error, bot = name, "demo bot cannot answer");
    }
}

/// What a bot says back. Simple on purpose: the point is a reply within a second.
fn reply(bot: &str, to: &str, text: &str) -> String {
    let lower = text.to_lowercase();
    let quoted: String = text.chars().take(60).collect();
    if ["hi", "hello", "hey", "morning"].iter().any(|w| {
        lower
            .split_whitespace()
            .any(|t| t.trim_matches(|c: char| !c.is_alphanumeric()) == *w)
    }) {
        format!("hi {to}! 👋 {bot} here")
    } else if lower.contains("coffee") {
        "☕ always. the coffee shop bot arrives with payments".to_owned()
    } else if text.trim_end().ends_with('?') {
        format!("good question, {to}. F1 shows what quid can do so far")
    } else {
        format!("got it: “{quoted}”")
    }
}

#[cfg(test)]
mod tests {
    use super::reply;

    #[test]
    fn replies_fit_the_message() {
        assert_eq!(
            reply("bob", "alice", "Hello there"),
            "hi alice! 👋 bob here"
        );
        assert!(reply("bob", "alice", "what now?").starts_with("good question"));
        assert_eq!(reply("bob", "alice", "ok"), "got it: “ok”");
    }
}
