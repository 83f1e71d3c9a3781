//! send_invoice, pay_invoice, refund, invoices. The rules live in `ledger::invoices`.

use super::payments::paying;
use super::{Caller, Handler};
use crate::ledger;
use crate::ledger::invoices::InvoiceOrder;
use crate::protocol::requests::{Invoices, PayInvoice, Refund, SendInvoice};
use crate::protocol::{ApiError, results};
use crate::server::ServerState;

impl Handler for SendInvoice {
    type Reply = results::InvoiceMade;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        state
            .writer
            .write(move |ctx| {
                let order = InvoiceOrder {
                    conversation_id: self.conversation_id,
                    items: &self.items,
                    currency: self.currency,
                    total_minor: self.total_minor,
                    payload: &self.payload,
                    expires_in_secs: self.expires_in_secs,
                    key: &self.idempotency_key,
                };
                ledger::invoices::send(ctx, &me, &order)
            })
            .await
    }
}

impl Handler for PayInvoice {
    type Reply = results::Paid;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?;
        let (buyer, limits) = (me.clone(), state.config.limits.clone());
        let PayInvoice {
            invoice_id,
            idempotency_key: key,
            pin,
        } = self;
        paying(state, me, pin, move |ctx| {
            ledger::invoices::pay(ctx, &buyer, invoice_id, &key, &limits)
        })
        .await
    }
}

impl Handler for Refund {
    type Reply = results::Refunded;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        let Refund {
            invoice_id,
            amount,
            idempotency_key: key,
        } = self;
        state
            .writer
            .write(move |ctx| ledger::invoices::refund(ctx, &me, invoice_id, amount, &key))
            .await
    }
}

impl Handler for Invoices {
    type Reply = results::Invoices;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let invoices = state
            .store
            .read(move |conn| conn.invoices_involving(me))
            .await?;
        Ok(results::Invoices { invoices })
    }
}
