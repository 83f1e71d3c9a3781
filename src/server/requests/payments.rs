//! balance, pay, request_money, split, pay_request, decline_request, cancel_request,
//! requests, statement, set_pin. The money rules live in `ledger`; this checks the PIN
//! (slow, so off the writer) and hands the rest to the writer. Every request that moves money
//! out of a wallet (a payment, paying a request, paying an invoice) goes through `paying`.

use super::{Caller, Handler};
use crate::ledger;
use crate::ledger::payments::PayOrder;
use crate::ledger::requests::RequestOrder;
use crate::protocol::payments::{PaymentRequest, PaymentRequestId};
use crate::protocol::requests::{
    Balance, CancelRequest, DeclineRequest, Pay, PayRequest, RequestMoney, Requests, SetPin, Split,
    Statement,
};
use crate::protocol::{ApiError, ErrorCode, User, results};
use crate::server::ServerState;
use crate::server::throttle::Key;
use crate::store;
use crate::store::accounts::WrongPin;
use crate::store::writer::WriteCtx;

impl Handler for Balance {
    type Reply = results::Balance;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let balances = state.store.read(move |conn| conn.balances(me)).await?;
        Ok(results::Balance { balances })
    }
}

impl Handler for Pay {
    type Reply = results::Paid;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?;
        let (payer, limits) = (me.clone(), state.config.limits.clone());
        let Pay {
            to,
            amount,
            memo,
            conversation_id,
            idempotency_key: key,
            pin,
        } = self;
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
    F: Fn(&mut WriteCtx) -> Result<T, ApiError> + Clone + Send + 'static,
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

impl Handler for RequestMoney {
    type Reply = results::RequestMade;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        state
            .writer
            .write(move |ctx| {
                let order = RequestOrder {
                    payer: &self.from,
                    amount: self.amount,
                    memo: &self.memo,
                    conversation_id: self.conversation_id,
                    expires_in_secs: self.expires_in_secs,
                    key: &self.idempotency_key,
                };
                ledger::requests::request_money(ctx, &me, &order)
            })
            .await
    }
}

impl Handler for Split {
    type Reply = results::Requests;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        let requests = state
            .writer
            .write(move |ctx| ledger::requests::split(ctx, &me, &self))
            .await?;
        Ok(results::Requests { requests })
    }
}

impl Handler for PayRequest {
    type Reply = results::Paid;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?;
        let (payer, limits) = (me.clone(), state.config.limits.clone());
        let PayRequest {
            request_id,
            idempotency_key: key,
            pin,
        } = self;
        paying(state, me, pin, move |ctx| {
            ledger::requests::pay_request(ctx, &payer, request_id, &key, &limits)
        })
        .await
    }
}

impl Handler for DeclineRequest {
    type Reply = results::RequestMade;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        close_request(state, caller, self.request_id, ledger::requests::decline).await
    }
}

impl Handler for CancelRequest {
    type Reply = results::RequestMade;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        close_request(state, caller, self.request_id, ledger::requests::cancel).await
    }
}

/// How a request is closed: `ledger::requests::decline` (by the payer) or `cancel` (by the requester).
type CloseRequest = fn(&mut WriteCtx, &User, PaymentRequestId) -> Result<PaymentRequest, ApiError>;

async fn close_request(
    state: &ServerState,
    caller: &Caller<'_>,
    request_id: PaymentRequestId,
    close: CloseRequest,
) -> Result<results::RequestMade, ApiError> {
    let me = caller.user()?.clone();
    let request = state
        .writer
        .write(move |ctx| close(ctx, &me, request_id))
        .await?;
    Ok(results::RequestMade {
        request,
        duplicate: false,
    })
}

impl Handler for Requests {
    type Reply = results::Requests;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let requests = state
            .store
            .read(move |conn| conn.requests_involving(me))
            .await?;
        Ok(results::Requests { requests })
    }
}

impl Handler for Statement {
    type Reply = results::Statement;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let Statement { before, limit } = self;
        let (lines, has_more) = state
            .store
            .read(move |conn| ledger::statement::statement(conn, me, before, limit))
            .await?;
        Ok(results::Statement { lines, has_more })
    }
}

impl Handler for SetPin {
    type Reply = results::Empty;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?;
        let SetPin {
            pin,
            current_pin,
            password,
        } = self;
        crate::protocol::accounts::validate_pin(&pin)?;
        match password {
            Some(password) => check_password(state, me, caller, password).await?,
            None => check_pin(state, me, current_pin).await?,
        }
        let hash = state.hasher.hash(pin).await?;
        let me = me.id;
        state
            .writer
            .write(move |ctx| ctx.db().set_pin_hash(me, &hash))
            .await?;
        Ok(results::Empty {})
    }
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
        WrongPin::Left(n) => ApiError::new(
            ErrorCode::WrongPin,
            format!("wrong payment PIN; {n} tries left"),
        ),
        WrongPin::Locked(until) => ApiError::new(
            ErrorCode::PinLocked,
            format!(
                "wrong payment PIN; too many in a row: {}",
                locked_for(until.0 - crate::protocol::TimestampMs::now().0)
            ),
        ),
    })
}

/// `set_pin` with the password in place of the PIN: checked as a login is (the same
/// brute-force budget for the username), since it lifts any PIN lock.
async fn check_password(
    state: &ServerState,
    me: &User,
    caller: &Caller<'_>,
    password: String,
) -> Result<(), ApiError> {
    let for_username = Key::Username(me.username.clone());
    state
        .throttle
        .admit(
            &[for_username.clone(), Key::login_from(caller.address)],
            std::time::Instant::now(),
        )
        .map_err(|wait| ApiError::rate_limited(wait, "too many attempts"))?;
    let username = me.username.clone();
    let found = state
        .store
        .read(move |conn| conn.credentials(&username))
        .await?;
    let hash = found.map(|(_, hash)| hash);
    if !state.hasher.verify(password, hash).await? {
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong password: the PIN was not changed",
        ));
    }
    state.throttle.forgive(&for_username);
    Ok(())
}

/// Payments are locked for `left_ms` more, or (`None`) every attempt is in use right now.
fn pin_locked(left_ms: Option<i64>) -> ApiError {
    let message = match left_ms {
        Some(ms) => format!("too many wrong PINs: {}", locked_for(ms)),
        None => "too many PIN attempts at once: payments are locked; try again later".into(),
    };
    ApiError::new(ErrorCode::PinLocked, message)
}

/// How long payments stay locked, `left_ms` from now, in words; a lock only a new PIN lifts
/// says how to set one.
fn locked_for(left_ms: i64) -> String {
    const HOUR_MS: i64 = 60 * 60 * 1000;
    match left_ms {
        ms if ms > 7 * 24 * HOUR_MS => "payments are locked until a new PIN is set with the \
                                        account's password (quid pin --forgot)"
            .to_owned(),
        ms if ms > 2 * HOUR_MS => format!(
            "payments are locked for {} more hour(s)",
            (ms + HOUR_MS - 1) / HOUR_MS
        ),
        ms => format!(
            "payments are locked for {} more minute(s)",
            (ms + 59_999) / 60_000
        ),
    }
}
