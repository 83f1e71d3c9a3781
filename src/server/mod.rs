//! The quid server: accepts websocket connections and serves the protocol over the store.
//! `connection` runs one client; `requests` answers requests; `hub` fans events out to
//! online connections; the store's writer commits. Shutdown reaches every task through
//! [`shutdown::Shutdown`].

pub mod auth;
mod connection;
mod expiry;
pub mod files;
pub mod hashing;
mod http;
pub mod hub;
pub mod metrics;
pub mod nodes;
pub mod partners;
mod requests;
pub mod revocation;
pub mod shutdown;
pub mod throttle;
mod transport;

use crate::store::Store;
use crate::store::location::Location;
use crate::store::writer::{Publish, Writer};
use hub::Hub;
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How long a session may go unused before its token is refused (`--session-idle-days`).
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(90 * 86_400);

/// Most connections served at once; further ones wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 10_000;

/// Most connections from one address at once, unless configured otherwise; more are refused
/// as they arrive, so one host cannot take every slot.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;

/// Requests per second one connection may make on average, and in a burst, unless configured
/// otherwise (`quid serve --rate-limit`, `--rate-burst`).
pub const DEFAULT_RATE_PER_SECOND: NonZeroU32 = NonZeroU32::new(20).unwrap();
pub const DEFAULT_RATE_BURST: NonZeroU32 = NonZeroU32::new(50).unwrap();

/// How long shutdown waits for connections to say goodbye before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Tunables of a running server. `Default` is what `quid serve` uses.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest frame accepted from a client; larger ones close the connection (1009).
    pub max_frame_bytes: usize,
    /// How often the server pings each client.
    pub ping_interval: Duration,
    /// A client silent (no frame, no pong) for this long is considered dead.
    pub idle_timeout: Duration,
    /// Requests per second allowed on one connection, on average...
    pub rate_per_second: NonZeroU32,
    /// ...and in a burst.
    pub rate_burst: NonZeroU32,
    /// Live events queued for one connection before it is dropped as too slow.
    pub outbound_queue: usize,
    /// Spending limits per transfer and per day.
    pub limits: crate::ledger::limits::Limits,
    /// How often open payment requests past their expiry are marked expired.
    pub expiry_sweep: Duration,
    /// Serve TLS with this certificate (`quid serve --tls-cert --tls-key`); plain when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Connections from one address at once (IPv6: one /64).
    pub max_connections_per_address: usize,
    /// Brute-force limits on logins and registrations.
    pub auth_limits: throttle::Policies,
    /// Payment partners for top-ups and payouts (`quid serve --partner`); none by default.
    pub partners: partners::Partners,
    /// How often pending top-ups and payouts are re-asked of their partners (and once at start).
    pub partner_recheck: Duration,
    /// A token unused this long (no connection opened with it) is refused: log in again.
    pub session_idle: Duration,
    /// Serve `/metrics` (and `/healthz`) on this address of their own, plain HTTP, and not on
    /// the public port (`quid serve --metrics-listen`); on the public port when `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// The largest file taken (`quid serve --max-file-bytes`).
    pub max_file_bytes: u64,
    /// The bytes of files and unfinished uploads kept for one user (`--file-quota-bytes`).
    pub file_quota_bytes: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_frame_bytes: crate::protocol::DEFAULT_MAX_FRAME_BYTES,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            rate_burst: DEFAULT_RATE_BURST,
            outbound_queue: 4096,
            limits: crate::ledger::limits::Limits::default(),
            expiry_sweep: Duration::from_secs(5),
            tls: None,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            auth_limits: throttle::Policies::default(),
            partners: partners::Partners::default(),
            partner_recheck: Duration::from_secs(60),
            metrics_listen: None,
            session_idle: DEFAULT_SESSION_IDLE,
            max_file_bytes: crate::protocol::files::DEFAULT_MAX_FILE_BYTES,
            file_quota_bytes: crate::protocol::files::DEFAULT_QUOTA_BYTES,
        }
    }
}

/// What every connection shares.
pub struct ServerState {
    pub store: Arc<Store>,
    pub writer: Writer,
    pub hub: Arc<Hub>,
    /// The other nodes on the same PostgreSQL database, if any.
    pub nodes: nodes::Nodes,
    pub config: ServerConfig,
    /// Password and PIN hashing, rationed (see `hashing::SLOTS`).
    pub hasher: hashing::Hasher,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub throttle: throttle::Throttle,
    pub live_tokens: Arc<revocation::LiveTokens>,
    pub per_address: connection::limit::PerAddress,
    pub metrics: Arc<metrics::ServerMetrics>,
}

impl ServerState {
    /// Closes every live connection on this server that uses `token_hash`.
    pub fn revoke_live(&self, token_hash: &str) {
        let closed = self.live_tokens.revoke(token_hash);
        self.metrics
            .revoked_connections
            .fetch_add(closed as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

pub struct Server {
    listener: TcpListener,
    /// Where `/metrics` is served apart, if it is.
    metrics_listener: Option<TcpListener>,
    state: Arc<ServerState>,
    writer_threads: crate::store::writer::WriterThreads,
}

impl Server {
    /// Opens the database and binds the listening socket; serving starts with [`Server::run`].
    pub async fn bind(
        listen: SocketAddr,
        db: &Location,
        config: ServerConfig,
    ) -> anyhow::Result<Server> {
        let hub = Arc::new(Hub::default());
        let publish_to = Arc::clone(&hub);
        let publish: Publish = Arc::new(move |d| publish_to.publish(d));
        let db = db.clone();
        // Connecting to PostgreSQL blocks, which an async thread must not.
        let (store, (writer, writer_threads)) = tokio::task::spawn_blocking(move || {
            let store = Store::open(&db)?;
            let writer = Writer::start(&store, publish)?;
            anyhow::Ok((store, writer))
        })
        .await??;
        let nodes = nodes::Nodes::start(&store, &hub)?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let metrics_listener = match config.metrics_listen {
            Some(address) => Some(TcpListener::bind(address).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {address} (--metrics-listen): {e}")
            })?),
            None => None,
        };
        let state = Arc::new(ServerState {
            store,
            writer,
            hub,
            nodes,
            hasher: hashing::Hasher::default(),
            tls: config.tls.clone().map(tokio_rustls::TlsAcceptor::from),
            throttle: throttle::Throttle::new(config.auth_limits),
            live_tokens: Arc::default(),
            per_address: connection::limit::PerAddress::new(config.max_connections_per_address),
            metrics: Arc::default(),
            config,
        });
        Ok(Server {
            listener,
            metrics_listener,
            state,
            writer_threads,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where `/metrics` is served apart, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// Serves until `stop` completes, then closes every connection and flushes the store.
    pub async fn run(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let (trigger, shutdown) = shutdown::channel();
        let sweeper = tokio::spawn(expiry::sweep(Arc::clone(&self.state), shutdown.clone()));
        let revocations = tokio::spawn(revocation::follow(
            Arc::clone(&self.state),
            shutdown.clone(),
        ));
        let partners = tokio::spawn(partners::follow(
            Arc::clone(&self.state),
            self.state.config.partner_recheck,
            shutdown.clone(),
        ));
        let metrics = self.metrics_listener.map(|listener| {
            tokio::spawn(http::serve_apart(
                listener,
                Arc::clone(&self.state),
                shutdown.clone(),
            ))
        });
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut connections = JoinSet::new();
        tokio::pin!(stop);
        loop {
            let permit = tokio::select! {
                _ = &mut stop => break,
                permit = Arc::clone(&limit).acquire_owned() => permit?,
            };
            let (stream, peer) = tokio::select! {
                _ = &mut stop => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Running out of file descriptors and the like: wait, don't spin.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let state = Arc::clone(&self.state);
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                connection::serve(stream, peer, state, shutdown).await;
                drop(permit);
            });
            // Reap finished connections so the set does not grow without bound.
            while connections.try_join_next().is_some() {}
        }
        tracing::info!("shutting down");
        trigger.fire();
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("connections did not close in time; dropping them");
            connections.shutdown().await;
        }
        let _ = sweeper.await;
        let _ = revocations.await;
        let _ = partners.await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        // The writer thread ends once the last handle to it is gone, after its final commit.
        drop(self.state);
        tokio::task::spawn_blocking(move || self.writer_threads.join())
            .await?
            .map_err(|_| anyhow::anyhow!("store writer thread panicked"))?;
        Ok(())
    }
}
