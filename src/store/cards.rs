//! Cards: a message that shows a payment or a request. The message stores which one; the
//! card is read fresh each time, so a request's card always shows its current status.

use super::invoices::Invoices;
use super::requests::Requests;
use super::wallets::Wallets;
use crate::protocol::ApiError;
use crate::protocol::payments::{Card, InvoiceId, PaymentRequestId, TransferId};

/// What a message row stores to point at its card.
pub fn reference(card: &Card) -> (&'static str, i64) {
    match card {
        Card::Payment { transfer } => ("payment", transfer.id.0),
        Card::Request { request } => ("request", request.id.0),
        Card::Invoice { invoice } => ("invoice", invoice.id.0),
        Card::Refund { transfer, .. } => ("refund", transfer.id.0),
    }
}

pub fn load<D>(db: &D, kind: &str, reference: i64) -> Result<Card, ApiError>
where
    D: Wallets + Requests + Invoices + ?Sized,
{
    match kind {
        "payment" => Ok(Card::Payment {
            transfer: db.transfer(TransferId(reference))?,
        }),
        "request" => Ok(Card::Request {
            request: db.request(PaymentRequestId(reference))?,
        }),
        "invoice" => Ok(Card::Invoice {
            invoice: db.invoice(InvoiceId(reference))?,
        }),
        "refund" => {
            let transfer = TransferId(reference);
            Ok(Card::Refund {
                transfer: db.transfer(transfer)?,
                invoice_id: db.refunded_invoice(transfer)?,
            })
        }
        other => {
            tracing::error!(kind = other, "unknown card kind in the store");
            Err(ApiError::internal())
        }
    }
}
