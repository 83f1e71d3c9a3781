//! send_invoice, pay_invoice, refund, invoices. The rules live in `ledger::invoices`.

use super::payments::paying;
use crate::ledger;
use crate::ledger::invoices::InvoiceOrder;
use crate::money::{Currency, Money};
use crate::protocol::payments::{IdempotencyKey, InvoiceId, LineItem};
use crate::protocol::{ApiError, ConversationId, User, results};
use crate::server::ServerState;

/// The fields of a `send_invoice` frame.
pub struct SendInvoice {
    pub conversation_id: ConversationId,
    pub items: Vec<LineItem>,
    pub currency: Currency,
    pub total_minor: i64,
    pub payload: String,
    pub expires_in_secs: Option<u64>,
    pub key: IdempotencyKey,
}

pub async fn send(
    state: &ServerState,
    me: &User,
    frame: SendInvoice,
) -> Result<results::InvoiceMade, ApiError> {
    let me = me.clone();
    state
        .writer
        .write(move |ctx| {
            let order = InvoiceOrder {
                conversation_id: frame.conversation_id,
                items: &frame.items,
                currency: frame.currency,
                total_minor: frame.total_minor,
                payload: &frame.payload,
                expires_in_secs: frame.expires_in_secs,
                key: &frame.key,
            };
            ledger::invoices::send(ctx, &me, &order)
        })
        .await
}

pub async fn pay(
    state: &ServerState,
    me: &User,
    invoice_id: InvoiceId,
    key: IdempotencyKey,
    pin: Option<String>,
) -> Result<results::Paid, ApiError> {
    let (buyer, limits) = (me.clone(), state.config.limits.clone());
    paying(state, me, pin, move |ctx| {
        ledger::invoices::pay(ctx, &buyer, invoice_id, &key, &limits)
    })
    .await
}

pub async fn refund(
    state: &ServerState,
    me: &User,
    invoice_id: InvoiceId,
    amount: Option<Money>,
    key: IdempotencyKey,
) -> Result<results::Refunded, ApiError> {
    let me = me.clone();
    state
        .writer
        .write(move |ctx| ledger::invoices::refund(ctx, &me, invoice_id, amount, &key))
        .await
}

pub async fn list(state: &ServerState, me: &User) -> Result<results::Invoices, ApiError> {
    let me = me.id;
    let invoices = state
        .store
        .read(move |conn| conn.invoices_involving(me))
        .await?;
    Ok(results::Invoices { invoices })
}
