//! What `GET /metrics` reports: connections, requests by type and code, the store writer's
//! batches, fan-out drops and refused logins. Each figure is counted where it happens.

use super::ServerState;
use crate::metrics::{LabelledCounter, render_value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct ServerMetrics {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub connections_refused: AtomicU64,
    /// Requests answered, by `type` and reply code (`ok` or an error code).
    pub requests: LabelledCounter,
    pub revoked_connections: AtomicU64,
    /// Payment partners' webhooks answered, by the HTTP status of the answer.
    pub webhooks: LabelledCounter,
}

/// Counts one open connection for as long as it lives.
pub struct OpenConnection(Arc<ServerMetrics>);

impl ServerMetrics {
    pub fn opened(self: &Arc<Self>) -> OpenConnection {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(Arc::clone(self))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every figure, in the Prometheus text exposition format.
pub fn render(state: &ServerState) -> String {
    let m = &state.metrics;
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let mut out = String::new();
    render_value(
        &mut out,
        "quid_connections_open",
        "gauge",
        "Websocket connections open now.",
        load(&m.connections_open),
    );
    render_value(
        &mut out,
        "quid_connections_total",
        "counter",
        "Websocket connections accepted since start.",
        load(&m.connections_total),
    );
    render_value(
        &mut out,
        "quid_connections_refused_total",
        "counter",
        "Connections refused for the per-address cap.",
        load(&m.connections_refused),
    );
    render_value(
        &mut out,
        "quid_connections_revoked_total",
        "counter",
        "Connections closed because their token was revoked.",
        load(&m.revoked_connections),
    );
    m.requests.render(
        &mut out,
        "quid_requests_total",
        "Requests answered, by type and reply code.",
        &["type", "code"],
    );
    m.webhooks.render(
        &mut out,
        "quid_webhooks_total",
        "Payment partners' webhooks answered, by HTTP status (401: a bad signature).",
        &["status"],
    );
    let writer = state.writer.stats();
    writer.batch_latency.render(
        &mut out,
        "quid_writer_batch_seconds",
        "Time to run and commit one writer batch.",
    );
    writer.batch_size.render(
        &mut out,
        "quid_writer_batch_requests",
        "Requests run in one writer batch (one transaction).",
    );
    render_value(
        &mut out,
        "quid_fanout_dropped_total",
        "counter",
        "Connections dropped because their live queue was full.",
        state.hub.dropped(),
    );
    render_value(
        &mut out,
        "quid_auth_throttled_total",
        "counter",
        "Logins and registrations refused by the brute-force limits.",
        state.throttle.refused(),
    );
    out
}
