//! Invoices: a merchant bot bills the other member of a direct conversation; the buyer pays
//! (the transfer and the status change in one transaction); the merchant may refund, in full
//! or in part, never above what was paid. The bot learns of a payment from a durable
//! `invoice_paid` event carrying its payload, so it never misses one while it is down.

mod items;
pub use items::{MAX_ITEM_NAME_CHARS, MAX_ITEMS, MAX_QUANTITY, total_of};

use super::accounts::wallet_or_open;
use super::limits::Limits;
use super::transfers::{self, PayOut, Posting};
use crate::money::{Currency, Money};
use crate::protocol::payments::{
    Card, IdempotencyKey, Invoice, InvoiceId, InvoiceStatus, LineItem, Transfer, TransferId,
    TransferKind,
};
use crate::protocol::{
    ApiError, ConversationId, ConversationKind, ErrorCode, Event, TimestampMs, User, UserId,
    results,
};
use crate::store::invoices::NewInvoice;
use crate::store::messages::insert_card;
use crate::store::writer::WriteCtx;

pub const MAX_PAYLOAD_BYTES: usize = 256;
/// Longest an invoice may stay open.
pub const MAX_EXPIRY_SECS: u64 = 30 * 24 * 60 * 60;
/// Most invoices expired in one sweep.
const EXPIRE_BATCH: u32 = 256;

pub struct InvoiceOrder<'a> {
    pub conversation_id: ConversationId,
    pub items: &'a [LineItem],
    pub currency: Currency,
    /// What the merchant says the total is; it must be the items' sum.
    pub total_minor: i64,
    pub payload: &'a str,
    pub expires_in_secs: Option<u64>,
    pub key: &'a IdempotencyKey,
}

/// A merchant bot sends an invoice to the other member of a direct conversation.
pub fn send(
    ctx: &mut WriteCtx,
    merchant: &User,
    order: &InvoiceOrder,
) -> Result<results::InvoiceMade, ApiError> {
    super::claim_key(ctx, merchant.id, order.key, "send_invoice")?;
    if !merchant.bot {
        return Err(ApiError::forbidden("only bot accounts send invoices"));
    }
    if order.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::invalid(format!(
            "payload is over {MAX_PAYLOAD_BYTES} bytes"
        )));
    }
    let items = serde_json::to_string(order.items).map_err(|_| ApiError::internal())?;
    let fingerprint = format!(
        "invoice|{}|{items}|{}|{}|{}|{:?}",
        order.conversation_id,
        order.currency,
        order.total_minor,
        order.payload,
        order.expires_in_secs
    );
    if let Some((id, stored)) = ctx.db().invoice_by_key(merchant.id, order.key)? {
        super::same_request(order.key, &stored, &fingerprint, "invoice")?;
        return Ok(results::InvoiceMade {
            invoice: ctx.db().invoice(id)?,
            duplicate: true,
        });
    }
    let total = total_of(order.items)?;
    let buyer = buyer_of(ctx, merchant, order, total)?;
    let expires_at = expiry(order.expires_in_secs, ctx.now())?;
    let id = ctx.db().insert_invoice(
        &NewInvoice {
            conversation_id: order.conversation_id,
            merchant: merchant.id,
            buyer: buyer.id,
            currency: order.currency,
            total_minor: total,
            items: &items,
            payload: order.payload,
            expires_at,
            key: order.key,
            fingerprint: &fingerprint,
        },
        ctx.now(),
    )?;
    let invoice = ctx.db().invoice(id)?;
    let summary = format!("invoice for {}", invoice.total);
    insert_card(
        ctx,
        merchant,
        order.conversation_id,
        Card::Invoice {
            invoice: invoice.clone(),
        },
        &summary,
    )?;
    Ok(results::InvoiceMade {
        invoice,
        duplicate: false,
    })
}

/// Who `order` bills: the other member of its direct conversation, once its items are seen to
/// add up to its total.
fn buyer_of(
    ctx: &WriteCtx,
    merchant: &User,
    order: &InvoiceOrder,
    total: i64,
) -> Result<User, ApiError> {
    if total != order.total_minor {
        return Err(ApiError::new(
            ErrorCode::InvoiceTotalMismatch,
            format!(
                "the items add up to {}, not {}",
                Money::new(total, order.currency),
                Money::new(order.total_minor, order.currency)
            ),
        ));
    }
    if ctx
        .db()
        .require_member(order.conversation_id, merchant.id)?
        != ConversationKind::Direct
    {
        return Err(ApiError::invalid(
            "invoices go in a direct conversation with the buyer",
        ));
    }
    ctx.db()
        .members(order.conversation_id)?
        .into_iter()
        .find(|m| m.id != merchant.id)
        .ok_or_else(|| ApiError::invalid("nobody to bill in that conversation"))
}

/// When an invoice that lasts `expires_in_secs` from `now` expires (never, without).
fn expiry(expires_in_secs: Option<u64>, now: TimestampMs) -> Result<Option<TimestampMs>, ApiError> {
    match expires_in_secs {
        Some(secs) if secs == 0 || secs > MAX_EXPIRY_SECS => Err(ApiError::invalid(format!(
            "expires_in_secs must be 1 to {MAX_EXPIRY_SECS}"
        ))),
        Some(secs) => Ok(Some(TimestampMs(now.0 + (secs as i64) * 1000))),
        None => Ok(None),
    }
}

/// The invoice, if `user` is in its conversation; otherwise `forbidden`, as for conversations.
fn visible(ctx: &WriteCtx, user: UserId, id: InvoiceId) -> Result<Invoice, ApiError> {
    let Some(conversation) = ctx.db().invoice_conversation(id)? else {
        return Err(ApiError::not_found(format!("no invoice {id}")));
    };
    ctx.db().require_member(conversation, user)?;
    ctx.db().invoice(id)
}

/// Refuses an invoice that is paid or expired (also one past its expiry not yet swept).
fn require_payable(invoice: &Invoice, now: TimestampMs) -> Result<(), ApiError> {
    let id = invoice.id;
    let expired = invoice.expires_at.is_some_and(|at| at <= now);
    match invoice.status {
        InvoiceStatus::Paid => Err(ApiError::new(
            ErrorCode::InvoiceAlreadyPaid,
            format!("invoice {id} is already paid"),
        )),
        InvoiceStatus::Expired => Err(ApiError::new(
            ErrorCode::InvoiceExpired,
            format!("invoice {id} has expired"),
        )),
        InvoiceStatus::Open if expired => Err(ApiError::new(
            ErrorCode::InvoiceExpired,
            format!("invoice {id} has expired"),
        )),
        InvoiceStatus::Open => Ok(()),
    }
}

/// The buyer pays invoice `id`: the transfer and the status change commit together, and the
/// merchant gets a durable `invoice_paid` event.
pub fn pay(
    ctx: &mut WriteCtx,
    me: &User,
    id: InvoiceId,
    key: &IdempotencyKey,
    limits: &Limits,
) -> Result<results::Paid, ApiError> {
    let fingerprint = format!("pay_invoice|{}", id.0);
    if let Some(original) = transfers::claim_payment(ctx, me.id, key, "pay_invoice", &fingerprint)?
    {
        return Ok(original);
    }
    let invoice = visible(ctx, me.id, id)?;
    if invoice.buyer.id != me.id {
        return Err(ApiError::forbidden(format!(
            "invoice {id} is for {}, not you",
            invoice.buyer.username
        )));
    }
    require_payable(&invoice, ctx.now())?;
    let memo = format!("invoice {id}");
    let paid = transfers::pay_out(
        ctx,
        &PayOut {
            payer: me,
            payee: &invoice.merchant,
            key,
            fingerprint: &fingerprint,
            kind: TransferKind::Invoice,
            amount: invoice.total,
            memo: &memo,
            conversation_id: invoice.conversation_id,
            request_id: None,
            invoice_id: Some(id),
        },
        limits,
    )?;
    if !ctx
        .db()
        .mark_invoice_paid(id, paid.transfer.id, ctx.now())?
    {
        // Another writer settled or expired it since it was read: refuse, as that writer's
        // outcome says; the savepoint undoes the transfer.
        require_payable(&ctx.db().invoice(id)?, ctx.now())?;
        return Err(ApiError::internal());
    }
    let invoice = ctx.db().invoice(id)?;
    announce(
        ctx,
        &Event::InvoicePaid {
            invoice: Box::new(invoice.clone()),
        },
        invoice.conversation_id,
    )?;
    Ok(paid)
}

/// The merchant gives back `amount` of a paid invoice (all that is left when `None`).
pub fn refund(
    ctx: &mut WriteCtx,
    merchant: &User,
    id: InvoiceId,
    amount: Option<Money>,
    key: &IdempotencyKey,
) -> Result<results::Refunded, ApiError> {
    super::claim_key(ctx, merchant.id, key, "refund")?;
    if let Some(amount) = amount {
        super::require_positive(amount)?;
    }
    let fingerprint = format!(
        "refund|{}|{:?}",
        id.0,
        amount.map(|a| (a.amount_minor, a.currency.code()))
    );
    if let Some(original) = transfers::replay_or_conflict(ctx.db(), merchant.id, key, &fingerprint)?
    {
        return Ok(results::Refunded {
            transfer: ctx.db().transfer(original)?,
            invoice: ctx.db().invoice(id)?,
            duplicate: true,
        });
    }
    let invoice = visible(ctx, merchant.id, id)?;
    let amount = refundable(&invoice, merchant, amount)?;
    let Some(from) = ctx.db().wallet(merchant.id, amount.currency)? else {
        return Err(ApiError::new(
            ErrorCode::InsufficientFunds,
            "the merchant has no balance to refund from",
        ));
    };
    let to = wallet_or_open(ctx.db(), invoice.buyer.id, amount.currency)?;
    let memo = format!("refund of invoice {id}");
    let transfer_id = transfers::post(
        ctx,
        &Posting {
            initiator: Some(merchant.id),
            key,
            fingerprint: &fingerprint,
            kind: TransferKind::Refund,
            from,
            to,
            amount,
            memo: &memo,
            conversation_id: Some(invoice.conversation_id),
            request_id: None,
            invoice_id: Some(id),
        },
    )?;
    // Conditional, so that two refunds racing on several writers cannot give back more than
    // was paid; the loser is refused and its transfer undone with the savepoint.
    if !ctx.db().add_refund(id, amount.amount_minor, ctx.now())? {
        return Err(ApiError::new(
            ErrorCode::RefundExceedsPayment,
            format!("{amount} is more than is left to refund on invoice {id}"),
        ));
    }
    let (transfer, invoice) = tell_of_refund(ctx, merchant, &invoice, transfer_id, amount)?;
    Ok(results::Refunded {
        transfer,
        invoice,
        duplicate: false,
    })
}

/// What `merchant` may give back of `invoice`: `asked`, or all that is left; refused with why
/// when it is not theirs, not paid, in another currency, or more than is left.
fn refundable(invoice: &Invoice, merchant: &User, asked: Option<Money>) -> Result<Money, ApiError> {
    let id = invoice.id;
    if invoice.merchant.id != merchant.id {
        return Err(ApiError::forbidden(format!(
            "only {} can refund invoice {id}",
            invoice.merchant.username
        )));
    }
    if invoice.status != InvoiceStatus::Paid {
        return Err(ApiError::invalid(format!(
            "invoice {id} is {}, so there is nothing to refund",
            invoice.status.as_str()
        )));
    }
    let left = invoice.total.amount_minor - invoice.refunded.amount_minor;
    let amount = asked.unwrap_or(Money::new(left, invoice.total.currency));
    if amount.currency != invoice.total.currency {
        return Err(ApiError::invalid(format!(
            "invoice {id} was paid in {}",
            invoice.total.currency
        )));
    }
    if left == 0 {
        return Err(ApiError::new(
            ErrorCode::RefundExceedsPayment,
            format!("invoice {id} is fully refunded already ({})", invoice.total),
        ));
    }
    if amount.amount_minor <= 0 {
        return Err(ApiError::invalid(format!(
            "a refund must be more than zero, not {amount}"
        )));
    }
    if amount.amount_minor > left {
        return Err(ApiError::new(
            ErrorCode::RefundExceedsPayment,
            format!(
                "{amount} is more than the {} left to refund on invoice {id}",
                Money::new(left, amount.currency)
            ),
        ));
    }
    Ok(amount)
}

/// The refund's card in the invoice's conversation and the invoice as it is now, told to both
/// sides; returns the refund's transfer and the invoice.
fn tell_of_refund(
    ctx: &mut WriteCtx,
    merchant: &User,
    invoice: &Invoice,
    transfer_id: TransferId,
    amount: Money,
) -> Result<(Transfer, Invoice), ApiError> {
    let id = invoice.id;
    let transfer = ctx.db().transfer(transfer_id)?;
    let summary = format!("refunded {amount}");
    insert_card(
        ctx,
        merchant,
        invoice.conversation_id,
        Card::Refund {
            transfer: transfer.clone(),
            invoice_id: id,
        },
        &summary,
    )?;
    let invoice = ctx.db().invoice(id)?;
    announce(
        ctx,
        &Event::InvoiceUpdated {
            invoice: Box::new(invoice.clone()),
        },
        invoice.conversation_id,
    )?;
    Ok((transfer, invoice))
}

/// Marks open invoices past their expiry as expired and tells both sides.
pub fn expire_due(ctx: &mut WriteCtx) -> Result<usize, ApiError> {
    let mut expired = 0;
    for id in ctx.db().invoices_due(ctx.now(), EXPIRE_BATCH)? {
        // Conditional: whoever changed the status first (a payment, another sweeper) wins,
        // and an expiry is announced once.
        if !ctx.db().expire_invoice(id, ctx.now())? {
            continue;
        }
        expired += 1;
        let invoice = ctx.db().invoice(id)?;
        announce(
            ctx,
            &Event::InvoiceUpdated {
                invoice: Box::new(invoice.clone()),
            },
            invoice.conversation_id,
        )?;
    }
    Ok(expired)
}

fn announce(
    ctx: &mut WriteCtx,
    event: &Event,
    conversation_id: ConversationId,
) -> Result<(), ApiError> {
    ctx.emit_to_conversation(conversation_id, event)?;
    Ok(())
}
