//! `quid serve`: runs the server until SIGINT or SIGTERM.

use crate::ledger::limits::Limits;
use crate::money::Money;
use crate::server::{Server, ServerConfig};
use crate::store::location::Location;
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
    /// SQLite database file, or postgres://USER@HOST:PORT/DB for several nodes on one
    /// database [default: server.db in the data dir]
    #[arg(long, value_name = "PATH|URL", value_parser = crate::store::location::parse_db)]
    db: Option<Location>,
    /// Largest frame accepted from a client, in bytes
    #[arg(long, default_value_t = crate::protocol::DEFAULT_MAX_FRAME_BYTES, value_name = "BYTES",
          value_parser = clap::value_parser!(usize))]
    max_frame_bytes: usize,
    /// Largest single payment, per currency, e.g. "500 EUR" (repeat for more currencies)
    #[arg(long, value_name = "AMOUNT", value_parser = parse_limit)]
    limit_per_transfer: Vec<Money>,
    /// Most one user may pay per UTC day, per currency, e.g. "2000 EUR"
    #[arg(long, value_name = "AMOUNT", value_parser = parse_limit)]
    limit_per_day: Vec<Money>,
    /// Serve TLS (wss://) with this PEM certificate chain, leaf first; needs --tls-key
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Requests per second one connection may make, on average (busy bots, benchmarks)
    #[arg(long, value_name = "N", default_value_t = crate::server::DEFAULT_RATE_PER_SECOND)]
    rate_limit: std::num::NonZeroU32,
    /// Requests one connection may make in a burst above that rate
    #[arg(long, value_name = "N", default_value_t = crate::server::DEFAULT_RATE_BURST)]
    rate_burst: std::num::NonZeroU32,
    /// Days a session may go unused (no connection opened with its token) before it is
    /// refused and its user must log in again
    #[arg(long, value_name = "DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u64).range(1..=36_500))]
    session_idle_days: u64,
    /// Serve /metrics (and /healthz) on this address of its own, plain HTTP, and not on the
    /// public port (e.g. 127.0.0.1:9447)
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Most connections from one address at once (IPv6: one /64)
    #[arg(long, value_name = "N", default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
          value_parser = clap::value_parser!(usize))]
    max_connections_per_address: usize,
    /// A payment partner for top-ups and withdrawals, as KIND=URL (the sandbox:
    /// sandbox=http://127.0.0.1:4243); its webhooks come to /webhooks/KIND on this port
    #[arg(long, value_name = "KIND=URL", value_parser = super::partner::partner_arg)]
    partner: Vec<super::partner::PartnerArg>,
    /// Payment partners from a TOML file, a section each ([sandbox], [stripe]) with where their
    /// secrets are (docs/PARTNERS.md); instead of --partner
    #[arg(long, value_name = "FILE", conflicts_with = "partner")]
    partners: Option<PathBuf>,
    /// Read the partner's secret from the first line of this file instead of
    /// QUID_PARTNER_SECRET
    #[arg(long, value_name = "PATH", requires = "partner")]
    partner_secret_file: Option<PathBuf>,
    /// How often pending top-ups and withdrawals are re-asked of their partner, in seconds
    /// (and once at start)
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    partner_recheck: u64,
    /// The largest file a user may send, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = crate::protocol::files::DEFAULT_MAX_FILE_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_file_bytes: u64,
    /// The bytes of files kept for one user (files no message carries go after a day)
    #[arg(long, value_name = "BYTES", default_value_t = crate::protocol::files::DEFAULT_QUOTA_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    file_quota_bytes: u64,
}

fn parse_limit(text: &str) -> Result<Money, String> {
    Money::parse_with_currency(text, None).map_err(|e| e.to_string())
}

pub async fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    crate::logging::to_stderr();
    let db = match &args.db {
        Some(db) => db.clone(),
        None => Location::Sqlite(
            crate::config::default_data_dir()
                .context("cannot find a data directory; pass --db PATH")?
                .join("server.db"),
        ),
    };
    if args.max_frame_bytes < 1024 {
        anyhow::bail!(
            "--max-frame-bytes {} is too small; use at least 1024",
            args.max_frame_bytes
        );
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        _ => None,
    };
    if args.max_connections_per_address == 0 {
        anyhow::bail!("--max-connections-per-address must be at least 1");
    }
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let config = ServerConfig {
        max_frame_bytes: args.max_frame_bytes,
        max_file_bytes: args.max_file_bytes,
        file_quota_bytes: args.file_quota_bytes,
        tls,
        max_connections_per_address: args.max_connections_per_address,
        rate_per_second: args.rate_limit,
        rate_burst: args.rate_burst,
        limits: Limits {
            per_transfer: args.limit_per_transfer.clone(),
            per_day: args.limit_per_day.clone(),
        },
        partners: crate::server::partners::Partners::new(match &args.partners {
            Some(file) => super::partner::providers_from_file(file)?,
            None => super::partner::providers(&args.partner, args.partner_secret_file.as_deref())?,
        }),
        partner_recheck: std::time::Duration::from_secs(args.partner_recheck),
        metrics_listen: args.metrics_listen,
        session_idle: std::time::Duration::from_secs(args.session_idle_days * 86_400),
        ..ServerConfig::default()
    };
    let stop = super::signals::stop_signal();
    let server = Server::bind(args.listen, &db, config).await?;
    let addr = server.local_addr()?;
    tracing::info!(%addr, %db, "quid server listening");
    say!("quid server listening on {scheme}://{addr} (database {db})");
    if let Some(metrics) = server.metrics_addr() {
        say!("metrics on http://{metrics}/metrics (and not on the public port)");
    }
    server.run(stop).await?;
    Ok(ExitCode::SUCCESS)
}
