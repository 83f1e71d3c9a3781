//! Invoices: a merchant bot bills the other member of a direct conversation; the buyer pays
//! (the transfer and the status change in one transaction); the merchant may refund, in full
//! or in part, never above what was paid. The bot learns of a payment from a durable
//! `invoice_paid` event carrying its payload, so it never misses one while it is down.

use super::accounts::{currency_of, wallet, wallet_or_open};
use super::limits::Limits;
use super::transfers::{self, Posting};
use crate::money::{Currency, Money};
use crate::protocol::payments::{
    Card, IdempotencyKey, Invoice, InvoiceId, InvoiceStatus, LineItem, TransferId, TransferKind,
};
use crate::protocol::{
    ApiError, ConversationId, ConversationKind, ErrorCode, Event, TimestampMs, User, UserId,
    results,
};
use crate::store::accounts::{USER_COLUMNS, user_from_row};
use crate::store::conversations::{members, require_member};
use crate::store::messages::insert_card;
use crate::store::writer::WriteCtx;
use rusqlite::{Connection, OptionalExtension};

/// Most lines on one invoice.
pub const MAX_ITEMS: usize = 50;
/// Most of one item on one invoice.
pub const MAX_QUANTITY: u32 = 1000;
pub const MAX_ITEM_NAME_CHARS: usize = 100;
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

/// The sum of the items, checked: every line valid, no overflow.
pub fn total_of(items: &[LineItem]) -> Result<i64, ApiError> {
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(ApiError::invalid(format!(
            "an invoice has 1 to {MAX_ITEMS} items"
        )));
    }
    let mut total: i64 = 0;
    for item in items {
        let name_chars = item.name.chars().count();
        if name_chars == 0
            || name_chars > MAX_ITEM_NAME_CHARS
            || item.name.chars().any(char::is_control)
        {
            return Err(ApiError::invalid(format!(
                "item name {:?} must be 1 to {MAX_ITEM_NAME_CHARS} characters without control characters",
                item.name
            )));
        }
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(ApiError::invalid(format!(
                "{}: quantity must be 1 to {MAX_QUANTITY}",
                item.name
            )));
        }
        if item.unit_price_minor <= 0 {
            return Err(ApiError::invalid(format!(
                "{}: the unit price must be positive",
                item.name
            )));
        }
        total = item
            .unit_price_minor
            .checked_mul(i64::from(item.quantity))
            .and_then(|line| total.checked_add(line))
            .ok_or_else(|| ApiError::invalid("the invoice's total is too large"))?;
    }
    Ok(total)
}

/// A merchant bot sends an invoice to the other member of a direct conversation.
pub fn send(
    ctx: &mut WriteCtx,
    merchant: &User,
    order: &InvoiceOrder,
) -> Result<results::InvoiceMade, ApiError> {
    super::validate_key(order.key)?;
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
    if let Some((id, stored)) = by_key(ctx.conn, merchant.id, order.key)? {
        if stored != fingerprint {
            return Err(ApiError::new(
                ErrorCode::IdempotencyConflict,
                format!(
                    "idempotency key {:?} was already used for a different invoice",
                    order.key.0
                ),
            ));
        }
        return Ok(results::InvoiceMade {
            invoice: view(ctx.conn, id)?,
            duplicate: true,
        });
    }
    let total = total_of(order.items)?;
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
    if require_member(ctx.conn, order.conversation_id, merchant.id)? != ConversationKind::Direct {
        return Err(ApiError::invalid(
            "invoices go in a direct conversation with the buyer",
        ));
    }
    let buyer = members(ctx.conn, order.conversation_id)?
        .into_iter()
        .find(|m| m.id != merchant.id)
        .ok_or_else(|| ApiError::invalid("nobody to bill in that conversation"))?;
    let expires_at = match order.expires_in_secs {
        Some(secs) if secs == 0 || secs > MAX_EXPIRY_SECS => {
            return Err(ApiError::invalid(format!(
                "expires_in_secs must be 1 to {MAX_EXPIRY_SECS}"
            )));
        }
        Some(secs) => Some(TimestampMs::now().0 + (secs as i64) * 1000),
        None => None,
    };
    let now = TimestampMs::now().0;
    ctx.conn.execute(
        "INSERT INTO invoices (conversation_id, merchant_id, buyer_id, currency, total_minor, items,
             payload, status, expires_at_ms, idempotency_key, fingerprint, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9, ?10, ?11, ?11)",
        rusqlite::params![
            order.conversation_id.0,
            merchant.id.0,
            buyer.id.0,
            order.currency.code(),
            total,
            items,
            order.payload,
            expires_at,
            order.key.0,
            fingerprint,
            now
        ],
    )?;
    let invoice = view(ctx.conn, InvoiceId(ctx.conn.last_insert_rowid()))?;
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

/// The buyer pays invoice `id`: the transfer and the status change commit together, and the
/// merchant gets a durable `invoice_paid` event.
pub fn pay(
    ctx: &mut WriteCtx,
    me: &User,
    id: InvoiceId,
    key: &IdempotencyKey,
    limits: &Limits,
) -> Result<results::Paid, ApiError> {
    super::validate_key(key)?;
    let fingerprint = format!("pay_invoice|{}", id.0);
    if let Some(original) = transfers::replay_or_conflict(ctx.conn, me.id, key, &fingerprint)? {
        return Ok(results::Paid {
            transfer: transfers::view(ctx.conn, original)?,
            balance_after: transfers::balance_after(ctx.conn, original)?,
            duplicate: true,
        });
    }
    let invoice = visible(ctx.conn, me.id, id)?;
    if invoice.buyer.id != me.id {
        return Err(ApiError::forbidden(format!(
            "invoice {id} is for {}, not you",
            invoice.buyer.username
        )));
    }
    let expired = invoice
        .expires_at
        .is_some_and(|at| at.0 <= TimestampMs::now().0);
    match invoice.status {
        InvoiceStatus::Paid => {
            return Err(ApiError::new(
                ErrorCode::InvoiceAlreadyPaid,
                format!("invoice {id} is already paid"),
            ));
        }
        InvoiceStatus::Expired => {
            return Err(ApiError::new(
                ErrorCode::InvoiceExpired,
                format!("invoice {id} has expired"),
            ));
        }
        InvoiceStatus::Open if expired => {
            return Err(ApiError::new(
                ErrorCode::InvoiceExpired,
                format!("invoice {id} has expired"),
            ));
        }
        InvoiceStatus::Open => {}
    }
    let Some(from) = wallet(ctx.conn, me.id, invoice.total.currency)? else {
        return Err(ApiError::new(
            ErrorCode::InsufficientFunds,
            format!(
                "you have no {} balance; this needs {}",
                invoice.total.currency, invoice.total
            ),
        ));
    };
    limits.check(ctx.conn, from, invoice.total, TimestampMs::now().0)?;
    let to = wallet_or_open(ctx.conn, invoice.merchant.id, invoice.total.currency)?;
    let memo = format!("invoice {id}");
    let transfer_id = transfers::post(
        ctx.conn,
        &Posting {
            initiator: Some(me.id),
            key,
            fingerprint: &fingerprint,
            kind: TransferKind::Invoice,
            from,
            to,
            amount: invoice.total,
            memo: &memo,
            conversation_id: Some(invoice.conversation_id),
            request_id: None,
            invoice_id: Some(id),
        },
    )?;
    let changed = ctx.conn.execute(
        "UPDATE invoices SET status = 'paid', transfer_id = ?2, updated_at_ms = ?3 WHERE id = ?1 AND status = 'open'",
        rusqlite::params![id.0, transfer_id.0, TimestampMs::now().0],
    )?;
    assert_eq!(
        changed, 1,
        "the invoice was open when read in this same transaction"
    );
    let invoice = view(ctx.conn, id)?;
    announce(
        ctx,
        &Event::InvoicePaid {
            invoice: Box::new(invoice.clone()),
        },
        invoice.conversation_id,
    )?;
    Ok(results::Paid {
        transfer: transfers::view(ctx.conn, transfer_id)?,
        balance_after: transfers::balance_after(ctx.conn, transfer_id)?,
        duplicate: false,
    })
}

/// The merchant gives back `amount` of a paid invoice (all that is left when `None`).
pub fn refund(
    ctx: &mut WriteCtx,
    merchant: &User,
    id: InvoiceId,
    amount: Option<Money>,
    key: &IdempotencyKey,
) -> Result<results::Refunded, ApiError> {
    super::validate_key(key)?;
    let fingerprint = format!(
        "refund|{}|{:?}",
        id.0,
        amount.map(|a| (a.amount_minor, a.currency.code()))
    );
    if let Some(original) = transfers::replay_or_conflict(ctx.conn, merchant.id, key, &fingerprint)?
    {
        return Ok(results::Refunded {
            transfer: transfers::view(ctx.conn, original)?,
            invoice: view(ctx.conn, id)?,
            duplicate: true,
        });
    }
    let invoice = visible(ctx.conn, merchant.id, id)?;
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
    let amount = amount.unwrap_or(Money::new(left, invoice.total.currency));
    if amount.currency != invoice.total.currency {
        return Err(ApiError::invalid(format!(
            "invoice {id} was paid in {}",
            invoice.total.currency
        )));
    }
    if amount.amount_minor <= 0 || amount.amount_minor > left {
        return Err(ApiError::new(
            ErrorCode::RefundExceedsPayment,
            format!(
                "{amount} is more than the {} left to refund on invoice {id}",
                Money::new(left, amount.currency)
            ),
        ));
    }
    let Some(from) = wallet(ctx.conn, merchant.id, amount.currency)? else {
        return Err(ApiError::new(
            ErrorCode::InsufficientFunds,
            "the merchant has no balance to refund from",
        ));
    };
    let to = wallet_or_open(ctx.conn, invoice.buyer.id, amount.currency)?;
    let memo = format!("refund of invoice {id}");
    let transfer_id = transfers::post(
        ctx.conn,
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
    ctx.conn.execute(
        "UPDATE invoices SET refunded_minor = refunded_minor + ?2, updated_at_ms = ?3 WHERE id = ?1",
        rusqlite::params![id.0, amount.amount_minor, TimestampMs::now().0],
    )?;
    let transfer = transfers::view(ctx.conn, transfer_id)?;
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
    let invoice = view(ctx.conn, id)?;
    announce(
        ctx,
        &Event::InvoiceUpdated {
            invoice: Box::new(invoice.clone()),
        },
        invoice.conversation_id,
    )?;
    Ok(results::Refunded {
        transfer,
        invoice,
        duplicate: false,
    })
}

/// Marks open invoices past their expiry as expired and tells both sides.
pub fn expire_due(ctx: &mut WriteCtx, now_ms: i64) -> Result<usize, ApiError> {
    let due: Vec<i64> = ctx
        .conn
        .prepare_cached(
            "SELECT id FROM invoices WHERE status = 'open' AND expires_at_ms <= ?1 LIMIT ?2",
        )?
        .query_map(rusqlite::params![now_ms, EXPIRE_BATCH], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for &id in &due {
        ctx.conn.execute(
            "UPDATE invoices SET status = 'expired', updated_at_ms = ?2 WHERE id = ?1",
            [id, now_ms],
        )?;
        let invoice = view(ctx.conn, InvoiceId(id))?;
        announce(
            ctx,
            &Event::InvoiceUpdated {
                invoice: Box::new(invoice.clone()),
            },
            invoice.conversation_id,
        )?;
    }
    Ok(due.len())
}

fn announce(
    ctx: &mut WriteCtx,
    event: &Event,
    conversation_id: ConversationId,
) -> Result<(), ApiError> {
    for member in members(ctx.conn, conversation_id)? {
        ctx.emit(member.id, event)?;
    }
    Ok(())
}

fn visible(conn: &Connection, user: UserId, id: InvoiceId) -> Result<Invoice, ApiError> {
    let conversation: Option<i64> = conn
        .query_row(
            "SELECT conversation_id FROM invoices WHERE id = ?1",
            [id.0],
            |row| row.get(0),
        )
        .optional()?;
    let Some(conversation) = conversation else {
        return Err(ApiError::not_found(format!("no invoice {id}")));
    };
    require_member(conn, ConversationId(conversation), user)?;
    view(conn, id)
}

fn by_key(
    conn: &Connection,
    merchant: UserId,
    key: &IdempotencyKey,
) -> Result<Option<(InvoiceId, String)>, ApiError> {
    Ok(conn
        .query_row(
            "SELECT id, fingerprint FROM invoices WHERE merchant_id = ?1 AND idempotency_key = ?2",
            rusqlite::params![merchant.0, key.0],
            |row| Ok((InvoiceId(row.get(0)?), row.get(1)?)),
        )
        .optional()?)
}

fn select_invoice() -> String {
    let merchant = USER_COLUMNS.replace("u.", "mu.");
    let buyer = USER_COLUMNS.replace("u.", "bu.");
    format!(
        "SELECT i.id, i.conversation_id, {merchant}, {buyer}, i.currency, i.total_minor, i.items,
                i.payload, i.status, i.expires_at_ms, i.created_at_ms, i.transfer_id, i.refunded_minor
         FROM invoices i JOIN users mu ON mu.id = i.merchant_id JOIN users bu ON bu.id = i.buyer_id"
    )
}

/// An invoice row before its text columns are checked.
struct InvoiceRow {
    head: (InvoiceId, ConversationId, User, User),
    currency: String,
    total_minor: i64,
    items: String,
    payload: String,
    status: String,
    times: (Option<i64>, i64),
    transfer_id: Option<i64>,
    refunded_minor: i64,
}

fn from_row(row: &rusqlite::Row) -> rusqlite::Result<InvoiceRow> {
    Ok(InvoiceRow {
        head: (
            InvoiceId(row.get(0)?),
            ConversationId(row.get(1)?),
            user_from_row(row, 2)?,
            user_from_row(row, 6)?,
        ),
        currency: row.get(10)?,
        total_minor: row.get(11)?,
        items: row.get(12)?,
        payload: row.get(13)?,
        status: row.get(14)?,
        times: (row.get(15)?, row.get(16)?),
        transfer_id: row.get(17)?,
        refunded_minor: row.get(18)?,
    })
}

fn finish(row: InvoiceRow) -> Result<Invoice, ApiError> {
    let (id, conversation_id, merchant, buyer) = row.head;
    let currency = currency_of(&row.currency)?;
    let corrupt = |what: &str| {
        tracing::error!(invoice = %id, what, "unreadable invoice in the store");
        ApiError::internal()
    };
    Ok(Invoice {
        id,
        conversation_id,
        merchant,
        buyer,
        items: serde_json::from_str(&row.items).map_err(|_| corrupt("items"))?,
        total: Money::new(row.total_minor, currency),
        payload: row.payload,
        status: InvoiceStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
        expires_at: row.times.0.map(TimestampMs),
        created_at: TimestampMs(row.times.1),
        transfer_id: row.transfer_id.map(TransferId),
        refunded: Money::new(row.refunded_minor, currency),
    })
}

pub fn view(conn: &Connection, id: InvoiceId) -> Result<Invoice, ApiError> {
    let sql = format!("{} WHERE i.id = ?1", select_invoice());
    finish(conn.query_row(&sql, [id.0], from_row)?)
}

/// Invoices `user` sent or was sent: open ones first, then the newest.
pub fn involving(conn: &Connection, user: UserId) -> Result<Vec<Invoice>, ApiError> {
    let sql = format!(
        "{} WHERE i.merchant_id = ?1 OR i.buyer_id = ?1 ORDER BY (i.status = 'open') DESC, i.id DESC LIMIT 200",
        select_invoice()
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map([user.0], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(finish).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, quantity: u32, unit_price_minor: i64) -> LineItem {
        LineItem {
            name: name.into(),
            quantity,
            unit_price_minor,
        }
    }

    #[test]
    fn totals_are_the_exact_sum_of_the_items_and_bad_lines_are_refused() {
        assert_eq!(
            total_of(&[item("latte", 2, 350), item("croissant", 1, 280)]).unwrap(),
            980
        );
        assert!(total_of(&[]).is_err());
        assert!(total_of(&[item("latte", 0, 350)]).is_err());
        assert!(total_of(&[item("latte", 1, 0)]).is_err());
        assert!(total_of(&[item("", 1, 1)]).is_err());
        assert!(
            total_of(&[item("x", MAX_QUANTITY, i64::MAX / 2)]).is_err(),
            "overflow is refused"
        );
    }
}
