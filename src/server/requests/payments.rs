//! balance, pay, request_money, split, pay_request, decline_request, cancel_request,
//! requests, statement, set_pin. The money rules live in `ledger`; this checks the PIN
//! (slow, so off the writer) and hands the rest to the writer.

use crate::ledger;
use crate::ledger::payments::PayOrder;
use crate::ledger::requests::RequestOrder;
use crate::money::Money;
use crate::protocol::payments::{IdempotencyKey, PaymentRequest, PaymentRequestId, TransferId};
use crate::protocol::{ApiError, ConversationId, ErrorCode, User, results};
use crate::server::ServerState;
use crate::store;
use crate::store::writer::WriteCtx;

pub async fn balance(state: &ServerState, me: &User) -> Result<results::Balance, ApiError> {
    let me = me.id;
    let balances = state.store.read(move |conn| conn.balances(me)).await?;
    Ok(results::Balance { balances })
}

#[allow(clippy::too_many_arguments)] // One per field of the `pay` frame.
pub async fn pay(
    state: &ServerState,
    me: &User,
    to: String,
    amount: Money,
    memo: String,
    conversation_id: Option<ConversationId>,
    key: IdempotencyKey,
    pin: Option<String>,
) -> Result<results::Paid, ApiError> {
    let (payer, limits) = (me.clone(), state.config.limits.clone());
    paying(state, me, pin, move |ctx| {
        let order = PayOrder {
            to: &to,
            amount,
            memo: &memo,
            conversation_id,
            key: &key,
        };
        ledger::payments::pay(ctx, &payer, &order, &limits)
    })
    .await
}

/// Runs `write`, which moves money out of `me`'s wallet, behind the PIN. An account without a
/// PIN is seen inside the write itself (one trip to the writer, no read before it); one with a
/// PIN is answered by the slow check first (`check_pin`), then written.
pub(super) async fn paying<T, F>(
    state: &ServerState,
    me: &User,
    pin: Option<String>,
    write: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut WriteCtx) -> Result<T, ApiError> + Clone + Send + 'static,
{
    let me_id = me.id;
    let without_pin = write.clone();
    let written = state
        .writer
        .write(move |ctx| match ctx.db().pin_hash(me_id)? {
            Some(_) => Ok(None),
            None => without_pin(ctx).map(Some),
        })
        .await?;
    if let Some(result) = written {
        return Ok(result);
    }
    check_pin(state, me, pin).await?;
    state.writer.write(write).await
}

#[allow(clippy::too_many_arguments)] // One per field of the `request_money` frame.
pub async fn request_money(
    state: &ServerState,
    me: &User,
    from: String,
    amount: Money,
    memo: String,
    conversation_id: Option<ConversationId>,
    expires_in_secs: Option<u64>,
    key: IdempotencyKey,
) -> Result<results::RequestMade, ApiError> {
    let me = me.clone();
    state
        .writer
        .write(move |ctx| {
            let order = RequestOrder {
                payer: &from,
                amount,
                memo: &memo,
                conversation_id,
                expires_in_secs,
                key: &key,
            };
            ledger::requests::request_money(ctx, &me, &order)
        })
        .await
}

pub async fn split(
    state: &ServerState,
    me: &User,
    conversation_id: ConversationId,
    amount: Money,
    memo: String,
    key: IdempotencyKey,
) -> Result<results::Requests, ApiError> {
    let me = me.clone();
    let requests = state
        .writer
        .write(move |ctx| ledger::requests::split(ctx, &me, conversation_id, amount, &memo, &key))
        .await?;
    Ok(results::Requests { requests })
}

pub async fn pay_request(
    state: &ServerState,
    me: &User,
    request_id: PaymentRequestId,
    key: IdempotencyKey,
    pin: Option<String>,
) -> Result<results::Paid, ApiError> {
    let (payer, limits) = (me.clone(), state.config.limits.clone());
    paying(state, me, pin, move |ctx| {
        ledger::requests::pay_request(ctx, &payer, request_id, &key, &limits)
    })
    .await
}

/// How a request is closed: `ledger::requests::decline` (by the payer) or `cancel` (by the requester).
pub type CloseRequest =
    fn(&mut WriteCtx, &User, PaymentRequestId) -> Result<PaymentRequest, ApiError>;

pub async fn close_request(
    state: &ServerState,
    me: &User,
    request_id: PaymentRequestId,
    close: CloseRequest,
) -> Result<results::RequestMade, ApiError> {
    let me = me.clone();
    let request = state
        .writer
        .write(move |ctx| close(ctx, &me, request_id))
        .await?;
    Ok(results::RequestMade {
        request,
        duplicate: false,
    })
}

pub async fn requests(state: &ServerState, me: &User) -> Result<results::Requests, ApiError> {
    let me = me.id;
    let requests = state
        .store
        .read(move |conn| conn.requests_involving(me))
        .await?;
    Ok(results::Requests { requests })
}

pub async fn statement(
    state: &ServerState,
    me: &User,
    before: Option<TransferId>,
    limit: u32,
) -> Result<results::Statement, ApiError> {
    let me = me.id;
    let (lines, has_more) = state
        .store
        .read(move |conn| ledger::statement::statement(conn, me, before, limit))
        .await?;
    Ok(results::Statement { lines, has_more })
}

pub async fn set_pin(
    state: &ServerState,
    me: &User,
    pin: String,
    current_pin: Option<String>,
) -> Result<results::Empty, ApiError> {
    if !(4..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid("a PIN is 4 to 12 digits"));
    }
    check_pin(state, me, current_pin).await?;
    let hash = state.hasher.hash(pin).await?;
    let me = me.id;
    state
        .writer
        .write(move |ctx| ctx.db().set_pin_hash(me, &hash))
        .await?;
    Ok(results::Empty {})
}

/// Passes when the account has no PIN, or `pin` is it. The attempt is counted before the slow
/// verification (off the writer) and settled after, so concurrent guesses share one budget.
async fn check_pin(state: &ServerState, me: &User, pin: Option<String>) -> Result<(), ApiError> {
    let me = me.id;
    let now = crate::protocol::TimestampMs::now().0;
    let (hash, locked_until) = state
        .store
        .read(move |conn| Ok((conn.pin_hash(me)?, conn.pin_locked_until(me, now)?)))
        .await?;
    let Some(hash) = hash else {
        return Ok(());
    };
    if let Some(until) = locked_until {
        return Err(pin_locked(Some(until - now)));
    }
    let Some(pin) = pin else {
        return Err(ApiError::new(
            ErrorCode::PinRequired,
            "this account needs its payment PIN",
        ));
    };
    let admitted = state
        .writer
        .write(move |ctx| store::accounts::admit_pin_attempt(ctx, me))
        .await?;
    if admitted.is_none() {
        return Err(pin_locked(None));
    }
    if state.hasher.verify(pin, Some(hash)).await? {
        state
            .writer
            .write(move |ctx| ctx.db().clear_pin_failures(me))
            .await?;
        return Ok(());
    }
    let left = state
        .writer
        .write(move |ctx| store::accounts::settle_wrong_pin(ctx, me))
        .await?;
    Err(match left {
        0 => ApiError::new(
            ErrorCode::PinLocked,
            "wrong payment PIN; too many in a row: payments are locked for 15 minutes",
        ),
        n => ApiError::new(
            ErrorCode::WrongPin,
            format!("wrong payment PIN; {n} tries left"),
        ),
    })
}

/// Payments are locked for `left_ms` more, or (`None`) every attempt is in use right now.
fn pin_locked(left_ms: Option<i64>) -> ApiError {
    let message = match left_ms {
        Some(ms) => format!(
            "too many wrong PINs: payments are locked for {} more minute(s)",
            (ms + 59_999) / 60_000
        ),
        None => "too many PIN attempts at once: payments are locked; try again later".into(),
    };
    ApiError::new(ErrorCode::PinLocked, message)
}
