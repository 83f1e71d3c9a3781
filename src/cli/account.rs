//! `quid register`, `quid login`, `quid logout`.

use super::secret::Passphrase;
use crate::config::Profile;
use crate::protocol::accounts::validate_password;
use crate::protocol::requests;
use crate::protocol::{ErrorCode, RequestBody, results};
use crate::secret::endpoint::Endpoint;
use crate::session::connection::{ConnectError, Connection, RequestError};
use crate::session::login::{Account, LogInError};
use crate::session::secret;
use crate::session::state::{self, ClientState};
use anyhow::{Context, bail};
use std::io::IsTerminal;
use std::process::ExitCode;

pub async fn register(
    profile: &Profile,
    password_stdin: bool,
    passphrase: Passphrase,
) -> anyhow::Result<ExitCode> {
    let password = read_password(profile, password_stdin, true)?;
    let body = RequestBody::Register(requests::Register {
        username: profile.username.clone(),
        password,
    });
    let auth = authenticate(profile, body).await?;
    say!(
        "registered {} on {} and logged in (profile {})",
        auth.user.username,
        profile.server,
        profile.name
    );
    say_how_the_device_went(profile, &auth, passphrase).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn login(
    profile: &Profile,
    password_stdin: bool,
    passphrase: Passphrase,
) -> anyhow::Result<ExitCode> {
    let password = read_password(profile, password_stdin, false)?;
    let body = RequestBody::Login(requests::Login {
        username: profile.username.clone(),
        password,
    });
    let auth = authenticate(profile, body).await?;
    say!("logged in as {} on {}", auth.user.username, profile.server);
    say_how_the_device_went(profile, &auth, passphrase).await?;
    Ok(ExitCode::SUCCESS)
}

/// Saves a token given on standard input (a bot's), once the server has accepted it.
pub async fn login_with_token(profile: &Profile) -> anyhow::Result<ExitCode> {
    let line = super::line_from_stdin("token", "--token-stdin")?;
    let token = line.trim();
    let (connection, _) =
        Connection::open_trusting(&profile.server, profile.ca_file.as_deref(), Some(token)).await?;
    let hello = connection.hello(None).await?;
    let user = hello
        .user
        .context("the server took the token but named no user")?;
    if user.username != profile.username {
        bail!(
            "that token is {}'s, but profile {} is {}; fix the profile's username",
            user.username,
            profile.name,
            profile.username
        );
    }
    state::write_token(&profile.data_dir, token)?;
    ClientState::open(&profile.data_dir)?.set_username(&user.username)?;
    say!(
        "logged in as {} on {} with the given token",
        user.username,
        profile.server
    );
    Ok(ExitCode::SUCCESS)
}

/// Publishes this device for secret conversations right after logging in, so that a secret
/// message can reach anyone who has used quid once. Logging in has succeeded either way: a
/// failure here is said on stderr, not as the command's error.
async fn say_how_the_device_went(
    profile: &Profile,
    auth: &results::Auth,
    passphrase: Passphrase,
) -> anyhow::Result<()> {
    match publish_device(profile, auth, passphrase).await {
        Ok(()) => say!("this device can now receive secret messages"),
        Err(error) => eprintln!(
            "this device is not published for secret conversations yet ({error:#}); it is the \
             next time you start quid or run a secret command"
        ),
    }
    Ok(())
}

async fn publish_device(
    profile: &Profile,
    auth: &results::Auth,
    passphrase: Passphrase,
) -> anyhow::Result<()> {
    let unlock = passphrase.unlock(profile)?;
    let mut endpoint = Endpoint::open(&profile.data_dir, &auth.user.username, &unlock)?;
    let (connection, _) = Connection::open_trusting(
        &profile.server,
        profile.ca_file.as_deref(),
        Some(&auth.token),
    )
    .await?;
    connection.hello(None).await?;
    secret::publish(&connection, &mut endpoint).await?;
    Ok(())
}

/// Runs register or login on an anonymous connection and saves the token it returns.
async fn authenticate(profile: &Profile, body: RequestBody) -> anyhow::Result<results::Auth> {
    let account = Account {
        server: &profile.server,
        ca_file: profile.ca_file.as_deref(),
        data_dir: &profile.data_dir,
    };
    account.authenticate(body).await.map_err(|e| match &e {
        LogInError::Request(request) => match explain(request) {
            Some(hint) => anyhow::anyhow!("{e}; {hint}"),
            None => e.into(),
        },
        _ => e.into(),
    })
}

pub async fn logout(profile: &Profile) -> anyhow::Result<ExitCode> {
    let Some(token) = state::read_token(&profile.data_dir)? else {
        say!("profile {} is not logged in", profile.name);
        return Ok(ExitCode::SUCCESS);
    };
    match Connection::open_trusting(&profile.server, profile.ca_file.as_deref(), Some(&token)).await
    {
        Ok((connection, _)) => {
            connection.hello(None).await?;
            let _: results::Empty = connection.request(RequestBody::Logout).await?;
        }
        // Already revoked on the server: forgetting it here is all that is left to do.
        Err(ConnectError::Unauthorized(_)) => {}
        Err(error) => {
            return Err(error).context(
                "the token was not revoked and is kept; try again when the server is reachable",
            );
        }
    }
    state::delete_token(&profile.data_dir)?;
    say!("logged out {} from {}", profile.username, profile.server);
    Ok(ExitCode::SUCCESS)
}

/// Explains the errors a person can act on; the rest keep their own message.
fn explain(error: &RequestError) -> Option<&'static str> {
    match error {
        RequestError::Api(api) => match api.code {
            ErrorCode::InvalidCredentials => Some("check the password, or register first"),
            ErrorCode::UsernameTaken => Some("pick another username in the profile, or log in"),
            ErrorCode::RateLimited => {
                Some("the server slows down repeated attempts; wait, then try again")
            }
            _ => None,
        },
        _ => None,
    }
}

fn read_password(profile: &Profile, from_stdin: bool, confirm: bool) -> anyhow::Result<String> {
    if from_stdin {
        return super::line_from_stdin("password", "--password-stdin");
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the password on; pass --password-stdin and pipe it in");
    }
    let prompt = format!("Password for {} on {}: ", profile.username, profile.server);
    let password = rpassword::prompt_password(prompt).context("cannot read the password")?;
    if confirm {
        // The rules before the second prompt: typing a refused password twice wastes both.
        validate_password(&password).map_err(|e| anyhow::anyhow!(e.message))?;
        let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        if again != password {
            bail!("the two passwords differ; nothing was registered");
        }
    }
    Ok(password)
}
