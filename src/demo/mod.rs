//! `quid demo`: the first run. An embedded server on a free loopback port, alice, bob and carol
//! with a little history, bots that answer, and the TUI logged in as alice. Quitting stops
//! everything; without `--db` nothing is left behind.

mod bots;
mod seed;

use crate::config::{Profile, TuiSettings};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::server::{Server, ServerConfig};
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use url::Url;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the demo's database here (reused on the next run) instead of a temporary one
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
}

/// Runs the demo with `tui`: a profile's theme, keys and notifications, or the defaults.
pub async fn run(args: &DemoArgs, tui: TuiSettings) -> anyhow::Result<ExitCode> {
    let workdir =
        tempfile::tempdir().context("cannot create a temporary directory for the demo")?;
    // The log outlives the demo, so a surprise can be looked into afterwards.
    let log_dir = crate::config::default_data_dir().unwrap_or_else(|| workdir.path().to_owned());
    crate::logging::to_file(&log_dir.join("demo.log"));
    let db = args
        .db
        .clone()
        .unwrap_or_else(|| workdir.path().join("demo.db"));
    let fresh = !db.exists();
    let location = crate::store::location::Location::Sqlite(db.clone());
    let (mut sandbox, partners) = partner().await?;
    let config = ServerConfig {
        partners,
        ..ServerConfig::default()
    };
    let server = Server::bind("127.0.0.1:0".parse()?, &location, config).await?;
    let url = Url::parse(&format!("ws://{}", server.local_addr()?))?;
    sandbox.send_webhooks_to(format!("http://{}/webhooks/sandbox", server.local_addr()?));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let (stop_sandbox, sandbox_stopped) = tokio::sync::oneshot::channel::<()>();
    let sandbox_task = tokio::spawn(sandbox.run(async {
        let _ = sandbox_stopped.await;
    }));

    let outcome = async {
        let tokens = seed::people(&url, &db).await?;
        if fresh {
            seed::balances(&db)?;
            seed::history(&url, &tokens).await?;
        }
        let bots = bots::start(&url, &tokens, workdir.path())?;
        let profile = Profile {
            name: "demo".into(),
            server: url.clone(),
            ca_file: None,
            username: "alice".into(),
            data_dir: workdir.path().join("alice"),
            tui,
            bank_account: Some(DEMO_IBAN.into()),
        };
        let result = crate::tui::runner::run(&profile, tokens.alice.clone()).await;
        bots.stop();
        result
    }
    .await;

    let _ = stop.send(());
    let _ = stop_sandbox.send(());
    server_task.await.context("demo server task failed")??;
    sandbox_task
        .await
        .context("demo sandbox partner task failed")?;
    outcome?;
    Ok(ExitCode::SUCCESS)
}

/// The bank account alice withdraws to in the demo (a valid test IBAN).
const DEMO_IBAN: &str = "DE89370400440532013000";

/// The demo's payment partner: the sandbox on a free loopback port, with a secret made for
/// this run, and the server's adapter for it.
async fn partner() -> anyhow::Result<(Sandbox, crate::server::partners::Partners)> {
    let mut secret = [0u8; 16];
    rand::fill(&mut secret);
    let secret = hex::encode(secret);
    let sandbox = Sandbox::bind(SandboxConfig {
        listen: "127.0.0.1:0".parse()?,
        webhook: None,
        stripe_webhook: None,
        secret: secret.clone(),
        public_url: None,
        switches: Default::default(),
        settle_after: std::time::Duration::from_secs(2),
        checkout_expires_after: std::time::Duration::from_secs(3600),
    })
    .await?;
    let adapter = crate::partner::sandbox::Sandbox::new("sandbox", sandbox.base_url(), &secret);
    let partners = crate::server::partners::Partners::new(vec![std::sync::Arc::new(adapter)]);
    Ok((sandbox, partners))
}
