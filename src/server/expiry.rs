//! Expires payment requests and invoices on time, even when nobody touches them, so both sides see
//! "expired" as a durable event; and deletes the ciphertext of disappearing messages whose time
//! is up (their clients remove them on time themselves: no event), and files no message
//! carries and uploads never finished, a day on.

use super::ServerState;
use super::shutdown::Shutdown;
use std::sync::Arc;

pub async fn sweep(state: Arc<ServerState>, mut shutdown: Shutdown) {
    let mut every = tokio::time::interval(state.config.expiry_sweep);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait() => return,
        }
        let expire = |ctx: &mut crate::store::writer::WriteCtx| {
            // One node sweeps at a time; the others skip this round. (Were two to sweep, the
            // conditional updates would still expire and announce each request once.)
            if !ctx.db().hold_expiry_sweep()? {
                return Ok(0);
            }
            let forgotten = ctx.now().0 - crate::store::files::FORGOTTEN_AFTER_MS;
            let (files, uploads) =
                crate::store::files::sweep(ctx, crate::protocol::TimestampMs(forgotten))?;
            Ok(crate::ledger::requests::expire_due(ctx)?
                + crate::ledger::invoices::expire_due(ctx)?
                + ctx.db().expire_sealed(ctx.now())?
                + files
                + uploads)
        };
        match state.writer.write(expire).await {
            Ok(0) => {}
            Ok(expired) => {
                tracing::info!(
                    expired,
                    "requests, invoices, sealed messages and files expired"
                )
            }
            Err(error) => tracing::warn!(%error, "expiry sweep failed"),
        }
    }
}
