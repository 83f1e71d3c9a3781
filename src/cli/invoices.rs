//! `quid invoices`: list invoices, pay one as the buyer, refund one as the merchant.

use super::chat::connect;
use super::money::{Consent, with_pin};
use crate::config::Profile;
use crate::money::Money;
use crate::protocol::payments::IdempotencyKey;
use crate::protocol::requests;
use crate::protocol::{RequestBody, results};
use anyhow::bail;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum InvoiceAction {
    Pay,
    Refund,
}

pub async fn invoices(profile: &Profile, json: bool) -> anyhow::Result<ExitCode> {
    let connection = connect(profile).await?;
    let reply: results::Invoices = connection.request(RequestBody::Invoices).await?;
    if json {
        say!("{}", crate::untrusted::json(&reply)?);
        return Ok(ExitCode::SUCCESS);
    }
    if reply.invoices.is_empty() {
        say!("no invoices");
    }
    for invoice in &reply.invoices {
        let seller = invoice
            .merchant
            .merchant
            .as_deref()
            .unwrap_or(&invoice.merchant.username);
        let side = if invoice.buyer.username == profile.username {
            format!("from {}", crate::untrusted::inert_line(seller))
        } else {
            format!("to {}", invoice.buyer.username)
        };
        let items: Vec<String> = invoice
            .items
            .iter()
            .map(|i| format!("{} × {}", i.quantity, crate::untrusted::inert_line(&i.name)))
            .collect();
        let refunded = if invoice.refunded.amount_minor > 0 {
            format!(", refunded {}", invoice.refunded)
        } else {
            String::new()
        };
        say!(
            "#{:<5} {side:<24} {:>12}  {}{refunded}  {}",
            invoice.id,
            invoice.total.to_string(),
            invoice.status.as_str(),
            items.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn act_on_invoice(
    profile: &Profile,
    action: InvoiceAction,
    id: i64,
    amount: Option<&str>,
    consent: Consent,
) -> anyhow::Result<ExitCode> {
    let invoice_id = crate::protocol::payments::InvoiceId(id);
    let connection = connect(profile).await?;
    let list: results::Invoices = connection.request(RequestBody::Invoices).await?;
    let Some(invoice) = list.invoices.into_iter().find(|i| i.id == invoice_id) else {
        bail!("no invoice {id} of yours; `quid invoices` lists them");
    };
    let key = IdempotencyKey::random();
    match action {
        InvoiceAction::Pay => {
            super::money::require_cover(&connection, invoice.total).await?;
            let seller = invoice
                .merchant
                .merchant
                .clone()
                .unwrap_or(invoice.merchant.username.clone());
            if !consent.confirms(&format!(
                "Pay {} to {} for invoice {id}?",
                invoice.total,
                crate::untrusted::inert_line(&seller)
            ))? {
                say!("nothing paid");
                return Ok(ExitCode::FAILURE);
            }
            let body = |pin| {
                RequestBody::PayInvoice(requests::PayInvoice {
                    invoice_id,
                    idempotency_key: key.clone(),
                    pin,
                })
            };
            let paid: results::Paid = with_pin(profile, connection, || consent.pin(), body).await?;
            say!(
                "paid invoice {id}: {}; balance {}",
                paid.transfer.amount,
                paid.balance_after
            );
        }
        InvoiceAction::Refund => {
            let amount = amount
                .map(|a| Money::parse(a, invoice.total.currency))
                .transpose()?;
            let left = Money::new(
                invoice.total.amount_minor - invoice.refunded.amount_minor,
                invoice.total.currency,
            );
            let question = format!(
                "Refund {} of invoice {id} to {}?",
                amount.unwrap_or(left),
                invoice.buyer.username
            );
            if !consent.confirms(&question)? {
                say!("nothing refunded");
                return Ok(ExitCode::FAILURE);
            }
            let body = |_| {
                RequestBody::Refund(requests::Refund {
                    invoice_id,
                    amount,
                    idempotency_key: key.clone(),
                })
            };
            let refunded: results::Refunded =
                with_pin(profile, connection, || consent.pin(), body).await?;
            say!(
                "refunded {} of invoice {id} ({} refunded of {})",
                refunded.transfer.amount,
                refunded.invoice.refunded,
                refunded.invoice.total
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
