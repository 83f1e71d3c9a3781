//! `quid serve`: runs the server until SIGINT or SIGTERM.

use crate::server::{Server, ServerConfig};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where `quid serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7447";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    listen: SocketAddr,
    /// SQLite database file [default: server.db in the data dir]
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Largest frame accepted from a client, in bytes
    #[arg(long, default_value_t = crate::protocol::DEFAULT_MAX_FRAME_BYTES, value_name = "BYTES",
          value_parser = clap::value_parser!(usize))]
    max_frame_bytes: usize,
}

pub async fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    super::logging::to_stderr();
    let db = match &args.db {
        Some(db) => db.clone(),
        None => crate::config::default_data_dir()
            .context("cannot find a data directory; pass --db PATH")?
            .join("server.db"),
    };
    if args.max_frame_bytes < 1024 {
        anyhow::bail!(
            "--max-frame-bytes {} is too small; use at least 1024",
            args.max_frame_bytes
        );
    }
    let config = ServerConfig {
        max_frame_bytes: args.max_frame_bytes,
        ..ServerConfig::default()
    };
    let server = Server::bind(args.listen, &db, config).await?;
    let addr = server.local_addr()?;
    tracing::info!(%addr, db = %db.display(), "quid server listening");
    println!(
        "quid server listening on ws://{addr} (database {})",
        db.display()
    );
    server.run(stop_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
