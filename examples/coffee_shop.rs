//! A merchant bot with a menu: `coffee_shop --server URL --token TOKEN`.
//!
//! Make its account first: `quid admin --db PATH create-bot coffee --merchant "Quid Coffee"`,
//! then run `cargo run --example coffee_shop -- --server ws://127.0.0.1:7447 --token TOKEN`
//! and write to @coffee: "2 latte 1 croissant".

use clap::Parser;
use std::path::PathBuf;
use url::Url;

#[derive(Debug, Parser)]
#[command(about = "Quid Coffee: a merchant bot that sells coffee in the chat")]
struct Args {
    /// The quid server, e.g. ws://127.0.0.1:7447
    #[arg(long, env = "QUID_SERVER")]
    server: Url,
    /// The bot's token, from `quid admin create-bot`
    #[arg(long, env = "QUID_BOT_TOKEN", hide_env_values = true)]
    token: String,
    /// Where the bot keeps its place in the event stream [default: coffee-shop in quid's data
    /// dir, as `quid serve` keeps its database]
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    if !matches!(args.server.scheme(), "ws" | "wss") {
        anyhow::bail!(
            "--server must be a ws:// or wss:// URL, not {}",
            args.server
        );
    }
    let state_dir = match args.state_dir {
        Some(dir) => dir,
        None => quid::config::default_data_dir()
            .map(|dir| dir.join("coffee-shop"))
            .ok_or_else(|| anyhow::anyhow!("no data dir on this system: give --state-dir"))?,
    };
    let bot = quid::bot::Bot::connect(args.server, args.token, state_dir)?;
    eprintln!("Quid Coffee is open; Ctrl-C closes it.");
    tokio::select! {
        _ = quid::bot::coffee_shop::run(bot) => anyhow::bail!("the bot's session ended (is the token right?)"),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
