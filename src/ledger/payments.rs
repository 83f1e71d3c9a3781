//! Paying someone, and minting (funding a wallet from issuance).

use super::accounts::{self, issuance, wallet_or_open};
use super::limits::Limits;
use super::transfers::{self, PayOut, Posting};
use crate::money::Money;
use crate::protocol::payments::{Card, IdempotencyKey, TransferKind, is_sealed_memo};
use crate::protocol::{ApiError, ConversationId, ErrorCode, User, results};
use crate::store::conversations::direct_with;
use crate::store::messages::insert_card;
use crate::store::writer::WriteCtx;

pub struct PayOrder<'a> {
    pub to: &'a str,
    pub amount: Money,
    pub memo: &'a str,
    pub conversation_id: Option<ConversationId>,
    pub key: &'a IdempotencyKey,
}

/// `me` pays `order.to`. A key seen before returns the original payment and moves nothing.
pub fn pay(
    ctx: &mut WriteCtx,
    me: &User,
    order: &PayOrder,
    limits: &Limits,
) -> Result<results::Paid, ApiError> {
    super::require_positive(order.amount)?;
    super::validate_memo(order.memo)?;
    let fingerprint = format!(
        "pay|{}|{}|{}|{}|{:?}",
        order.to,
        order.amount.amount_minor,
        order.amount.currency,
        order.memo,
        order.conversation_id
    );
    if let Some(original) = transfers::claim_payment(ctx, me.id, order.key, "pay", &fingerprint)? {
        return Ok(original);
    }
    let recipient = ctx.db().user_by_name(order.to)?;
    if recipient.id == me.id {
        return Err(ApiError::new(
            ErrorCode::SelfPayment,
            "you cannot pay yourself",
        ));
    }
    transfers::hold_wallets(ctx, me.id, recipient.id, order.amount.currency)?;
    let conversation_id =
        conversation_with(ctx, me, &recipient, order.conversation_id, order.memo)?;
    let paid = transfers::pay_out(
        ctx,
        &PayOut {
            payer: me,
            payee: &recipient,
            key: order.key,
            fingerprint: &fingerprint,
            kind: TransferKind::Payment,
            amount: order.amount,
            memo: order.memo,
            conversation_id,
            request_id: None,
            invoice_id: None,
        },
        limits,
    )?;
    let summary = format!("paid {} to {}", order.amount, recipient.username);
    insert_card(
        ctx,
        me,
        conversation_id,
        Card::Payment {
            transfer: paid.transfer.clone(),
        },
        &summary,
    )?;
    Ok(paid)
}

/// The conversation a payment or request between `me` and `other` goes in: the one named,
/// if both are in it, else their direct conversation. In a secret conversation the memo must
/// be a sealed reference (the memo itself travels end-to-end encrypted beside the card).
pub fn conversation_with(
    ctx: &mut WriteCtx,
    me: &User,
    other: &User,
    named: Option<ConversationId>,
    memo: &str,
) -> Result<ConversationId, ApiError> {
    match named {
        Some(id) => {
            let membership = ctx.db().membership(id, me.id)?;
            if !ctx.db().members(id)?.iter().any(|m| m.id == other.id) {
                return Err(ApiError::invalid(format!(
                    "{} is not in conversation {id}",
                    other.username
                )));
            }
            if membership.secret && !memo.is_empty() && !is_sealed_memo(memo) {
                return Err(ApiError::invalid(format!(
                    "conversation {id} is secret: a memo here would be readable by the server; \
                     send it sealed and give only its reference (sealed:TOKEN)"
                )));
            }
            Ok(id)
        }
        None => direct_with(ctx, me, other),
    }
}

/// Funds `user`'s wallet from issuance: how money enters quid (demos, tests, and later a
/// funding provider). Returns the new balance.
pub fn mint(
    ctx: &mut WriteCtx,
    user: &User,
    amount: Money,
    key: &IdempotencyKey,
) -> Result<Money, ApiError> {
    let from = issuance(ctx.db(), amount.currency)?;
    let to = wallet_or_open(ctx.db(), user.id, amount.currency)?;
    transfers::post(
        ctx,
        &Posting {
            initiator: None,
            key,
            fingerprint: "mint",
            kind: TransferKind::Mint,
            from,
            to,
            amount,
            memo: "funds added",
            conversation_id: None,
            request_id: None,
            invoice_id: None,
        },
    )?;
    Ok(Money::new(
        accounts::balance(ctx.db(), to)?,
        amount.currency,
    ))
}
