//! Money in and out through payment partners. A top-up is stored pending and credits the
//! wallet only when its partner says it succeeded; a payout debits the wallet when asked for
//! and gives the money back if its partner says it failed. Both move money through the
//! partner's clearing account in that currency, so every currency still sums to zero.
//!
//! A partner's word arrives as an event (a webhook, or the answer to a fetch): each is applied
//! at most once (its id is recorded in the same transaction), a funding leaves `pending` once
//! (a conditional update), and an event that does not match its funding (another amount,
//! currency or kind) is refused whole. So duplicated, reordered and late events move money
//! once, or not at all.

use super::accounts::{paying_wallet, wallet_or_open};
use super::limits::Limits;
use super::transfers::{self, Posting};
use crate::money::{Currency, Money};
use crate::partner::PartnerEvent;
use crate::protocol::funding::{FundingId, FundingKind, FundingStatus, masked_account};
use crate::protocol::payments::{IdempotencyKey, TransferId, TransferKind};
use crate::protocol::{ApiError, ErrorCode, Event, User, UserId};
use crate::store::funding::{NewFunding, Outcome, StoredFunding};
use crate::store::wallets::{AccountId, Wallets};
use crate::store::writer::WriteCtx;

/// `provider`'s clearing account in `currency`, opened on first use.
pub fn clearing(
    store: &dyn Wallets,
    provider: &str,
    currency: Currency,
) -> Result<AccountId, ApiError> {
    match store.clearing(provider, currency)? {
        Some(id) => Ok(id),
        None => store.open_clearing(provider, currency),
    }
}

/// Stores a pending top-up of `amount` for `user` through `provider`. A key seen before
/// returns that top-up, as it stands now.
pub fn start_topup(
    ctx: &mut WriteCtx,
    user: &User,
    provider: &str,
    amount: Money,
    key: &IdempotencyKey,
) -> Result<StoredFunding, ApiError> {
    super::require_positive(amount)?;
    let fingerprint = format!(
        "topup|{provider}|{}|{}",
        amount.amount_minor, amount.currency
    );
    if let Some(seen) = replayed(ctx, user.id, key, "topup", &fingerprint)? {
        return Ok(seen);
    }
    let id = ctx.db().insert_funding(
        &NewFunding {
            kind: FundingKind::Topup,
            user: user.id,
            provider,
            amount,
            bank_account: None,
            key,
            fingerprint: &fingerprint,
            transfer: None,
        },
        ctx.now(),
    )?;
    announce(ctx, id)
}

/// A payout about to be asked for.
pub struct PayoutOrder<'a> {
    pub provider: &'a str,
    pub amount: Money,
    /// An IBAN, compact (`funding::normalize_iban`).
    pub bank_account: &'a str,
    pub key: &'a IdempotencyKey,
}

/// Debits `user`'s wallet into `provider`'s clearing account and stores the pending payout.
/// Refused, with nothing moved, when the wallet holds too little or the limits say no. A key
/// seen before returns that payout, as it stands now.
pub fn start_payout(
    ctx: &mut WriteCtx,
    user: &User,
    order: &PayoutOrder,
    limits: &Limits,
) -> Result<StoredFunding, ApiError> {
    super::require_positive(order.amount)?;
    let fingerprint = format!(
        "withdraw|{}|{}|{}|{}",
        order.provider, order.amount.amount_minor, order.amount.currency, order.bank_account
    );
    if let Some(seen) = replayed(ctx, user.id, order.key, "withdraw", &fingerprint)? {
        return Ok(seen);
    }
    let from = paying_wallet(ctx, user.id, order.amount, limits)?;
    let to = clearing(ctx.db(), order.provider, order.amount.currency)?;
    let memo = format!("withdrawal to {}", masked_account(order.bank_account));
    let debit = transfers::post(
        ctx,
        &Posting {
            initiator: Some(user.id),
            key: order.key,
            fingerprint: &fingerprint,
            kind: TransferKind::Payout,
            from,
            to,
            amount: order.amount,
            memo: &memo,
            conversation_id: None,
            request_id: None,
            invoice_id: None,
        },
    )?;
    let id = ctx.db().insert_funding(
        &NewFunding {
            kind: FundingKind::Payout,
            user: user.id,
            provider: order.provider,
            amount: order.amount,
            bank_account: Some(order.bank_account),
            key: order.key,
            fingerprint: &fingerprint,
            transfer: Some(debit),
        },
        ctx.now(),
    )?;
    announce(ctx, id)
}

/// Claims `key` for a `kind` of funding request; for a key seen before, the funding it made
/// (or a conflict, if it came with another request).
fn replayed(
    ctx: &mut WriteCtx,
    user: UserId,
    key: &IdempotencyKey,
    kind: &'static str,
    fingerprint: &str,
) -> Result<Option<StoredFunding>, ApiError> {
    if super::claim_key(ctx, user, key, kind)? == super::Claim::New {
        return Ok(None);
    }
    let Some(id) = ctx.db().funding_by_key(user, key)? else {
        return Err(ApiError::internal());
    };
    let stored = ctx.db().funding(id)?;
    super::same_request(key, &stored.fingerprint, fingerprint, kind)?;
    Ok(Some(stored))
}

/// Records what the partner calls funding `id` (and a top-up's checkout page). A second
/// answer for the same funding changes nothing.
pub fn record_reference(
    ctx: &mut WriteCtx,
    id: FundingId,
    reference: &str,
    checkout_url: Option<&str>,
) -> Result<StoredFunding, ApiError> {
    if ctx
        .db()
        .set_funding_reference(id, reference, checkout_url, ctx.now())?
    {
        return announce(ctx, id);
    }
    ctx.db().funding(id)
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The funding ended as the event says (money moved if it had to).
    Finished(FundingId),
    /// Seen before: nothing done.
    Duplicate,
    /// Nothing to do: the funding is still pending, or had ended already.
    Unchanged(FundingId),
}

/// Applies a partner's event to the funding it names, once. Refused (nothing recorded, nothing
/// moved) when the funding is unknown, or the event's kind, amount or currency differ from it.
pub fn apply_event(ctx: &mut WriteCtx, event: &PartnerEvent) -> Result<Applied, ApiError> {
    let Some(id) = ctx
        .db()
        .funding_by_reference(&event.provider, &event.reference)?
    else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "{} has no {} with reference {:?}",
                event.provider,
                event.kind.as_str(),
                event.reference
            ),
        ));
    };
    let stored = ctx.db().funding(id)?;
    matches_funding(&stored, event)?;
    if !ctx.db().record_provider_event(
        &event.provider,
        &event.event_id,
        id,
        event.status,
        ctx.now(),
    )? {
        return Ok(Applied::Duplicate);
    }
    if event.status == FundingStatus::Pending || stored.funding.status.is_final() {
        if stored.funding.status.is_final() && stored.funding.status != event.status {
            tracing::warn!(
                funding = id.0,
                was = stored.funding.status.as_str(),
                says = event.status.as_str(),
                "a partner event contradicts how a funding ended; kept as it was"
            );
        }
        return Ok(Applied::Unchanged(id));
    }
    finish(ctx, &stored, event.status, &event.reason)?;
    Ok(Applied::Finished(id))
}

/// An event must be about this funding as it was asked for: its kind, amount and currency.
fn matches_funding(stored: &StoredFunding, event: &PartnerEvent) -> Result<(), ApiError> {
    let funding = &stored.funding;
    if funding.kind != event.kind {
        return Err(ApiError::invalid(format!(
            "{} {:?} is a {}, but the event is about a {}",
            event.provider,
            event.reference,
            funding.kind.as_str(),
            event.kind.as_str()
        )));
    }
    if funding.amount != event.amount {
        return Err(ApiError::invalid(format!(
            "{} {} was for {}, but the event says {}",
            funding.kind.as_str(),
            funding.id,
            funding.amount,
            event.amount
        )));
    }
    Ok(())
}

/// Ends a pending funding: a top-up that succeeded is credited from clearing; a payout that
/// failed is given back from clearing. Anything else moves nothing.
pub fn finish(
    ctx: &mut WriteCtx,
    stored: &StoredFunding,
    status: FundingStatus,
    reason: &str,
) -> Result<(), ApiError> {
    let funding = &stored.funding;
    let moved = match (funding.kind, status) {
        (FundingKind::Topup, FundingStatus::Succeeded) => Some(from_clearing(
            ctx,
            stored,
            TransferKind::Topup,
            &format!("top-up via {}", funding.provider),
        )?),
        (FundingKind::Payout, FundingStatus::Failed) => Some(from_clearing(
            ctx,
            stored,
            TransferKind::PayoutReturn,
            &format!("withdrawal returned: {reason}"),
        )?),
        _ => None,
    };
    let outcome = Outcome {
        status,
        reason,
        transfer: moved.filter(|_| funding.kind == FundingKind::Topup),
        return_transfer: moved.filter(|_| funding.kind == FundingKind::Payout),
    };
    if !ctx.db().finish_funding(funding.id, &outcome, ctx.now())? {
        // Another writer ended it first (PostgreSQL runs writers side by side): undo ours.
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("{} {} has ended already", funding.kind.as_str(), funding.id),
        ));
    }
    announce(ctx, funding.id)?;
    Ok(())
}

/// Moves a funding's amount from its partner's clearing account into its user's wallet.
fn from_clearing(
    ctx: &mut WriteCtx,
    stored: &StoredFunding,
    kind: TransferKind,
    memo: &str,
) -> Result<TransferId, ApiError> {
    let funding = &stored.funding;
    let from = clearing(ctx.db(), &funding.provider, funding.amount.currency)?;
    let to = wallet_or_open(ctx.db(), stored.user, funding.amount.currency)?;
    // Not the user's key: the user did not ask for this transfer, the partner's word did.
    let key = IdempotencyKey(format!("{}:{}", kind.as_str(), funding.id));
    transfers::post(
        ctx,
        &Posting {
            initiator: None,
            key: &key,
            fingerprint: kind.as_str(),
            kind,
            from,
            to,
            amount: funding.amount,
            memo,
            conversation_id: None,
            request_id: None,
            invoice_id: None,
        },
    )
}

/// Tells the funding's owner how it stands now; returns it.
fn announce(ctx: &mut WriteCtx, id: FundingId) -> Result<StoredFunding, ApiError> {
    let stored = ctx.db().funding(id)?;
    ctx.emit(
        stored.user,
        &Event::FundingUpdated {
            funding: Box::new(stored.funding.clone()),
        },
    )?;
    Ok(stored)
}
