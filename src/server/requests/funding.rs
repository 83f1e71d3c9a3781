//! topup, withdraw, fundings: money in and out through a payment partner. The ledger stores
//! and moves (`ledger/funding.rs`); `server/partners.rs` talks to the partner between the
//! two writes each needs (the partner is called outside any transaction).

use super::payments::paying;
use super::{Caller, Handler};
use crate::ledger::funding::{self, PayoutOrder};
use crate::protocol::funding::{Funding, normalize_iban};
use crate::protocol::requests::{Fundings, Topup, Withdraw};
use crate::protocol::{ApiError, ErrorCode, results};
use crate::server::{ServerState, partners};

/// How many fundings `fundings` lists.
const LISTED: u32 = 100;

impl Handler for Topup {
    type Reply = Funding;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.clone();
        let provider = partner_taking(state, self.provider.as_deref(), |p| {
            p.accepts(self.amount.currency)
        })?;
        let name = provider.name().to_owned();
        let Topup {
            amount,
            idempotency_key: key,
            ..
        } = self;
        let stored = state
            .writer
            .write(move |ctx| funding::start_topup(ctx, &me, &name, amount, &key))
            .await?;
        if stored.provider_ref.is_some() || stored.funding.status.is_final() {
            // A retry: the partner was asked already.
            return Ok(stored.funding);
        }
        partners::create(state, provider, stored).await
    }
}

impl Handler for Withdraw {
    type Reply = Funding;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?;
        let provider = partner_taking(state, self.provider.as_deref(), |p| {
            p.pays_out()?;
            p.accepts(self.amount.currency)
        })?;
        let account = normalize_iban(&self.bank_account).map_err(ApiError::invalid)?;
        let (name, user, limits) = (
            provider.name().to_owned(),
            me.clone(),
            state.config.limits.clone(),
        );
        let Withdraw {
            amount,
            idempotency_key: key,
            pin,
            ..
        } = self;
        let stored = paying(state, me, pin, move |ctx| {
            let order = PayoutOrder {
                provider: &name,
                amount,
                bank_account: &account,
                key: &key,
            };
            funding::start_payout(ctx, &user, &order, &limits)
        })
        .await?;
        if stored.provider_ref.is_some() || stored.funding.status.is_final() {
            return Ok(stored.funding);
        }
        partners::create(state, provider, stored).await
    }
}

/// The partner named (or the first), if `accepts` says it takes the amount's currency;
/// refused before anything is stored otherwise.
fn partner_taking(
    state: &ServerState,
    name: Option<&str>,
    accepts: impl FnOnce(&dyn crate::partner::Provider) -> Result<(), String>,
) -> Result<std::sync::Arc<dyn crate::partner::Provider>, ApiError> {
    let provider = state.config.partners.choose(name)?;
    accepts(provider.as_ref()).map_err(|why| ApiError::new(ErrorCode::PartnerRefused, why))?;
    Ok(provider)
}

impl Handler for Fundings {
    type Reply = results::Fundings;

    async fn apply(
        self,
        state: &ServerState,
        caller: &Caller<'_>,
    ) -> Result<Self::Reply, ApiError> {
        let me = caller.user()?.id;
        let fundings = state
            .store
            .read(move |db| db.fundings_of(me, LISTED))
            .await?;
        Ok(results::Fundings { fundings })
    }
}
