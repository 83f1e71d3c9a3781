//! Payment requests: asked, paid (the transfer and the status change in one transaction),
//! declined, cancelled, expired. Every change is a durable event to the conversation.

use super::limits::Limits;
use super::payments::conversation_with;
use super::transfers::{self, PayOut};
use crate::money::Money;
use crate::protocol::payments::{
    Card, IdempotencyKey, PaymentRequest, PaymentRequestId, RequestStatus, TransferKind,
};
use crate::protocol::requests::Split;
use crate::protocol::{
    ApiError, ConversationId, ConversationKind, ErrorCode, Event, TimestampMs, User, UserId,
    results,
};
use crate::store::messages::insert_card;
use crate::store::requests::NewRequest;
use crate::store::writer::WriteCtx;

/// Longest a request may stay open.
pub const MAX_EXPIRY_SECS: u64 = 90 * 24 * 60 * 60;
/// Most requests expired in one sweep; the next sweep takes the rest.
const EXPIRE_BATCH: u32 = 256;

pub struct RequestOrder<'a> {
    pub payer: &'a str,
    pub amount: Money,
    pub memo: &'a str,
    pub conversation_id: Option<ConversationId>,
    pub expires_in_secs: Option<u64>,
    pub key: &'a IdempotencyKey,
}

/// `me` asks `order.payer` for money. A key seen before returns the original request.
pub fn request_money(
    ctx: &mut WriteCtx,
    me: &User,
    order: &RequestOrder,
) -> Result<results::RequestMade, ApiError> {
    super::claim_key(ctx, me.id, order.key, "request_money")?;
    super::require_positive(order.amount)?;
    super::validate_memo(order.memo)?;
    let fingerprint = format!(
        "request|{}|{}|{}|{}|{:?}|{:?}",
        order.payer,
        order.amount.amount_minor,
        order.amount.currency,
        order.memo,
        order.conversation_id,
        order.expires_in_secs
    );
    if let Some((id, stored)) = ctx.db().request_by_key(me.id, order.key)? {
        super::same_request(order.key, &stored, &fingerprint, "request")?;
        return Ok(results::RequestMade {
            request: ctx.db().request(id)?,
            duplicate: true,
        });
    }
    let payer = ctx.db().user_by_name(order.payer)?;
    if payer.id == me.id {
        return Err(ApiError::new(
            ErrorCode::SelfPayment,
            "you cannot ask yourself for money",
        ));
    }
    let expires_at = match order.expires_in_secs {
        Some(secs) if secs == 0 || secs > MAX_EXPIRY_SECS => {
            return Err(ApiError::invalid(format!(
                "expires_in_secs must be 1 to {MAX_EXPIRY_SECS}"
            )));
        }
        Some(secs) => Some(TimestampMs(ctx.now().0 + (secs as i64) * 1000)),
        None => None,
    };
    let conversation_id = conversation_with(ctx, me, &payer, order.conversation_id, order.memo)?;
    let id = ctx.db().insert_request(
        &NewRequest {
            conversation_id,
            requester: me.id,
            payer: payer.id,
            amount: order.amount,
            memo: order.memo,
            expires_at,
            key: order.key,
            fingerprint: &fingerprint,
        },
        ctx.now(),
    )?;
    let request = ctx.db().request(id)?;
    let summary = format!("asked {} for {}", payer.username, order.amount);
    insert_card(
        ctx,
        me,
        conversation_id,
        Card::Request {
            request: request.clone(),
        },
        &summary,
    )?;
    Ok(results::RequestMade {
        request,
        duplicate: false,
    })
}

/// Splits a bill in a group, one request to each other member. With `includes_me` the amount
/// is the whole bill, shared by every member and the requester's own share is not asked for;
/// without, it is what the others owe together. `Money::shares` cuts it exactly; the
/// requester's share takes the first (largest) part.
pub fn split(
    ctx: &mut WriteCtx,
    me: &User,
    order: &Split,
) -> Result<Vec<PaymentRequest>, ApiError> {
    let Split {
        conversation_id,
        amount,
        memo,
        idempotency_key: key,
        includes_me,
    } = order;
    super::claim_key(ctx, me.id, key, "split")?;
    super::require_positive(*amount)?;
    if ctx.db().require_member(*conversation_id, me.id)? != ConversationKind::Group {
        return Err(ApiError::invalid(
            "split works in a group; this is a direct conversation",
        ));
    }
    let others: Vec<User> = ctx
        .db()
        .members(*conversation_id)?
        .into_iter()
        .filter(|m| m.id != me.id)
        .collect();
    let people = others.len() + usize::from(*includes_me);
    let mut parts = amount.shares(people).ok_or_else(|| {
        ApiError::invalid(format!(
            "{amount} is too little to split among {people} people"
        ))
    })?;
    if *includes_me {
        parts.remove(0);
    }
    let mut requests = Vec::new();
    for (member, part) in others.iter().zip(parts) {
        let part_key = IdempotencyKey(format!("{}/{}", key.0, member.id.0));
        let order = RequestOrder {
            payer: &member.username,
            amount: part,
            memo,
            conversation_id: Some(*conversation_id),
            expires_in_secs: None,
            key: &part_key,
        };
        requests.push(request_money(ctx, me, &order)?.request);
    }
    Ok(requests)
}

/// The payer pays request `id`: the transfer and the status change commit together.
pub fn pay_request(
    ctx: &mut WriteCtx,
    me: &User,
    id: PaymentRequestId,
    key: &IdempotencyKey,
    limits: &Limits,
) -> Result<results::Paid, ApiError> {
    let fingerprint = format!("pay_request|{}", id.0);
    if let Some(original) = transfers::claim_payment(ctx, me.id, key, "pay_request", &fingerprint)?
    {
        return Ok(original);
    }
    let request = visible(ctx, me.id, id)?;
    if request.payer.id != me.id {
        return Err(ApiError::forbidden(format!(
            "request {id} asks {} to pay, not you",
            request.payer.username
        )));
    }
    require_open(&request, ctx.now())?;
    let paid = transfers::pay_out(
        ctx,
        &PayOut {
            payer: me,
            payee: &request.requester,
            key,
            fingerprint: &fingerprint,
            kind: TransferKind::Request,
            amount: request.amount,
            memo: &request.memo,
            conversation_id: request.conversation_id,
            request_id: Some(id),
            invoice_id: None,
        },
        limits,
    )?;
    if !ctx
        .db()
        .close_request(id, RequestStatus::Paid, Some(paid.transfer.id), ctx.now())?
    {
        // Another writer paid, closed or expired it since it was read: refuse, as that
        // writer's outcome says; the savepoint undoes the transfer.
        require_open(&ctx.db().request(id)?, ctx.now())?;
        return Err(ApiError::internal());
    }
    announce(ctx, id)?;
    Ok(paid)
}

pub fn decline(
    ctx: &mut WriteCtx,
    me: &User,
    id: PaymentRequestId,
) -> Result<PaymentRequest, ApiError> {
    let request = visible(ctx, me.id, id)?;
    if request.payer.id != me.id {
        return Err(ApiError::forbidden(format!(
            "only {} can decline request {id}",
            request.payer.username
        )));
    }
    close(ctx, &request, RequestStatus::Declined)
}

pub fn cancel(
    ctx: &mut WriteCtx,
    me: &User,
    id: PaymentRequestId,
) -> Result<PaymentRequest, ApiError> {
    let request = visible(ctx, me.id, id)?;
    if request.requester.id != me.id {
        return Err(ApiError::forbidden(format!(
            "only {} can cancel request {id}",
            request.requester.username
        )));
    }
    close(ctx, &request, RequestStatus::Cancelled)
}

fn close(
    ctx: &mut WriteCtx,
    request: &PaymentRequest,
    status: RequestStatus,
) -> Result<PaymentRequest, ApiError> {
    require_open(request, ctx.now())?;
    if !ctx
        .db()
        .close_request(request.id, status, None, ctx.now())?
    {
        // Another writer paid, closed or expired it since it was read.
        require_open(&ctx.db().request(request.id)?, ctx.now())?;
        return Err(ApiError::internal());
    }
    announce(ctx, request.id)
}

/// Marks open requests past their expiry as expired and tells their conversations.
pub fn expire_due(ctx: &mut WriteCtx) -> Result<usize, ApiError> {
    let mut expired = 0;
    for id in ctx.db().requests_due(ctx.now(), EXPIRE_BATCH)? {
        // Conditional: whoever changed the status first (a payment, another sweeper) wins,
        // and an expiry is announced once.
        if ctx
            .db()
            .close_request(id, RequestStatus::Expired, None, ctx.now())?
        {
            expired += 1;
            announce(ctx, id)?;
        }
    }
    Ok(expired)
}

/// Sends the request's current state to everyone in its conversation.
fn announce(ctx: &mut WriteCtx, id: PaymentRequestId) -> Result<PaymentRequest, ApiError> {
    let request = ctx.db().request(id)?;
    let event = Event::RequestUpdated {
        request: Box::new(request.clone()),
    };
    ctx.emit_to_conversation(request.conversation_id, &event)?;
    Ok(request)
}

/// The request, if `user` is in its conversation; otherwise `forbidden`, as for conversations.
fn visible(ctx: &WriteCtx, user: UserId, id: PaymentRequestId) -> Result<PaymentRequest, ApiError> {
    let Some(conversation) = ctx.db().request_conversation(id)? else {
        return Err(ApiError::not_found(format!("no payment request {id}")));
    };
    ctx.db().require_member(conversation, user)?;
    ctx.db().request(id)
}

/// Refuses anything but an open, unexpired request, with the code that says why.
fn require_open(request: &PaymentRequest, now: TimestampMs) -> Result<(), ApiError> {
    let id = request.id;
    let expired = request.expires_at.is_some_and(|at| at <= now);
    let (code, message) = match request.status {
        RequestStatus::Open if !expired => return Ok(()),
        RequestStatus::Open | RequestStatus::Expired => (
            ErrorCode::RequestExpired,
            format!("request {id} has expired"),
        ),
        RequestStatus::Paid => (
            ErrorCode::RequestAlreadyPaid,
            format!("request {id} is already paid"),
        ),
        RequestStatus::Declined => (
            ErrorCode::RequestDeclined,
            format!("request {id} was declined"),
        ),
        RequestStatus::Cancelled => (
            ErrorCode::RequestCancelled,
            format!("request {id} was cancelled"),
        ),
    };
    Err(ApiError::new(code, message))
}
