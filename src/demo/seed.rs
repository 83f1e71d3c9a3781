//! The demo's people and the conversations they already had.

use crate::protocol::requests;
use crate::protocol::{ClientMsgId, ConversationId, ErrorCode, RequestBody, results};
use crate::session::connection::{Connection, RequestError};
use anyhow::Context;
use url::Url;

/// Every demo account has this password, so a kept `--db` can be logged into again.
pub const DEMO_PASSWORD: &str = "quid-demo-password";

pub struct Tokens {
    pub alice: String,
    pub bob: String,
    pub carol: String,
    /// The coffee shop's bot.
    pub coffee: String,
}

/// Registers alice, bob and carol, or logs them in when a kept database already has them;
/// makes (or reuses) the coffee shop's bot account and a token for it.
pub async fn people(url: &Url, db: &std::path::Path) -> anyhow::Result<Tokens> {
    Ok(Tokens {
        coffee: coffee_bot(db)?,
        alice: account(url, "alice").await?,
        bob: account(url, "bob").await?,
        carol: account(url, "carol").await?,
    })
}

async fn account(url: &Url, username: &str) -> anyhow::Result<String> {
    let (connection, _) = Connection::open(url, None).await?;
    connection.hello(None).await?;
    let register = RequestBody::Register(requests::Register {
        username: username.into(),
        password: DEMO_PASSWORD.into(),
    });
    let auth: results::Auth = match connection.request(register).await {
        Ok(auth) => auth,
        Err(RequestError::Api(e)) if e.code == ErrorCode::UsernameTaken => {
            let login = RequestBody::Login(requests::Login {
                username: username.into(),
                password: DEMO_PASSWORD.into(),
            });
            connection.request(login).await.with_context(|| {
                format!("demo user {username} exists in this database with another password")
            })?
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot create demo user {username}"));
        }
    };
    Ok(auth.token)
}

/// A token for the coffee shop's bot, `@coffee`, created on first use, as `quid admin
/// create-bot coffee --merchant "Quid Coffee"` does.
fn coffee_bot(db: &std::path::Path) -> anyhow::Result<String> {
    let store = crate::store::Store::open_sqlite(db)?;
    let token = crate::server::auth::new_token();
    let hash = crate::server::auth::token_hash(&token);
    store
        .write_once(|ctx| {
            let bot = match ctx.db().user_by_name("coffee") {
                Ok(bot) => bot,
                Err(_) => crate::store::accounts::create_bot(ctx, "coffee", Some("Quid Coffee"))?,
            };
            crate::store::sessions::insert_token(ctx, &hash, bot.id)
        })
        .map_err(|e| anyhow::anyhow!("cannot set up the coffee shop: {}", e.message))?;
    Ok(token)
}

/// Starting balances, minted from issuance as `quid admin mint` does.
pub fn balances(db: &std::path::Path) -> anyhow::Result<()> {
    let store = crate::store::Store::open_sqlite(db)?;
    let eur = crate::money::Currency::from_code("EUR").map_err(anyhow::Error::msg)?;
    for (name, minor) in [("alice", 25_000), ("bob", 10_000), ("carol", 10_000)] {
        store
            .write_once(|ctx| {
                let user = ctx.db().user_by_name(name)?;
                let key = crate::protocol::payments::IdempotencyKey::random();
                crate::ledger::payments::mint(
                    ctx,
                    &user,
                    crate::money::Money::new(minor, eur),
                    &key,
                )
            })
            .map_err(|e| anyhow::anyhow!("cannot fund {name}: {}", e.message))?;
    }
    Ok(())
}

/// A little history so the first screen is not empty.
pub async fn history(url: &Url, tokens: &Tokens) -> anyhow::Result<()> {
    let alice = connect(url, &tokens.alice).await?;
    let bob = connect(url, &tokens.bob).await?;
    let carol = connect(url, &tokens.carol).await?;
    let coffee = connect(url, &tokens.coffee).await?;
    let with_coffee = open(&coffee, "alice").await?;
    say(
        &coffee,
        with_coffee,
        &format!(
            "Welcome to Quid Coffee! {}",
            crate::bot::coffee_shop::menu_text()
        ),
    )
    .await?;

    let general: results::OneConversation = carol
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: "general".into(),
            members: vec!["alice".into(), "bob".into()],
        }))
        .await?;
    let general = general.conversation.id;
    say(&carol, general, "morning all ☕").await?;
    say(&bob, general, "standup at 10?").await?;
    say(
        &carol,
        general,
        "yes, and the new coffee machine finally works",
    )
    .await?;

    let with_carol = open(&carol, "alice").await?;
    say(
        &carol,
        with_carol,
        "welcome! press F1 (or ? in an empty composer) for every key",
    )
    .await?;

    let with_bob = open(&bob, "alice").await?;
    say(&bob, with_bob, "hey alice 👋 this is quid").await?;
    say(&alice, with_bob, "hi bob! how does it work?").await?;
    say(
        &bob,
        with_bob,
        "type a message and press Enter; I answer everything",
    )
    .await?;
    say(
        &bob,
        with_bob,
        "and you owe me a coffee: Tab picks my request, Enter shows what you pay, Enter pays; F2 pays anyone, F3 asks",
    )
    .await?;
    let eur = crate::money::Currency::from_code("EUR").map_err(anyhow::Error::msg)?;
    let _: results::RequestMade = bob
        .request(RequestBody::RequestMoney(requests::RequestMoney {
            from: "alice".into(),
            amount: crate::money::Money::new(450, eur),
            memo: "coffee ☕".into(),
            conversation_id: Some(with_bob),
            expires_in_secs: None,
            idempotency_key: crate::protocol::payments::IdempotencyKey::random(),
        }))
        .await?;
    Ok(())
}

async fn connect(url: &Url, token: &str) -> anyhow::Result<Connection> {
    let (connection, _) = Connection::open(url, Some(token)).await?;
    connection.hello(None).await?;
    Ok(connection)
}

async fn open(connection: &Connection, username: &str) -> anyhow::Result<ConversationId> {
    let opened: results::OneConversation = connection
        .request(RequestBody::OpenDirect(requests::OpenDirect {
            username: username.into(),
        }))
        .await?;
    Ok(opened.conversation.id)
}

async fn say(
    connection: &Connection,
    conversation_id: ConversationId,
    text: &str,
) -> anyhow::Result<()> {
    let _: results::Sent = connection
        .request(RequestBody::Send(requests::Send {
            conversation_id,
            client_id: ClientMsgId::random(),
            text: text.into(),
            reply_to: None,
            file: None,
        }))
        .await?;
    Ok(())
}
