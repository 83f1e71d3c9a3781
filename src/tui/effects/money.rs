//! Effects on the wallet: paying, requests, invoices, top-ups, payouts, the statement.

use super::secret::why_not_sent;
use super::{Executor, misrouted};
use crate::protocol::{ErrorCode, RequestBody, requests, results};
use crate::session::SessionError;
use crate::session::connection::RequestError;
use crate::tui::state::{Done, Effect};
use serde::de::DeserializeOwned;

impl Executor {
    /// Paying: a person, a request, an invoice.
    pub(super) fn payments(&self, effect: Effect) {
        match effect {
            Effect::Pay {
                to,
                amount,
                memo,
                conversation_id,
                key,
                pin,
                sealed_for,
            } => {
                let body = RequestBody::Pay(requests::Pay {
                    to,
                    amount,
                    memo,
                    conversation_id: Some(conversation_id),
                    idempotency_key: key,
                    pin,
                });
                self.money_after(sealed_for, body, |r: results::Paid| Done::Paid(r));
            }
            Effect::PayRequest {
                request_id,
                key,
                pin,
            } => {
                let body = RequestBody::PayRequest(requests::PayRequest {
                    request_id,
                    idempotency_key: key,
                    pin,
                });
                self.send_money(body, |r: results::Paid| Done::Paid(r));
            }
            Effect::PayInvoice {
                invoice_id,
                key,
                pin,
            } => {
                let body = RequestBody::PayInvoice(requests::PayInvoice {
                    invoice_id,
                    idempotency_key: key,
                    pin,
                });
                self.send_money(body, |r: results::Paid| Done::Paid(r));
            }
            other => misrouted(&other),
        }
    }

    /// Asking for money: requests, declining and cancelling them, splits.
    pub(super) fn requests(&self, effect: Effect) {
        match effect {
            Effect::RequestMoney {
                from,
                amount,
                memo,
                conversation_id,
                key,
                sealed_for,
            } => {
                let body = RequestBody::RequestMoney(requests::RequestMoney {
                    from,
                    amount,
                    memo,
                    conversation_id: Some(conversation_id),
                    expires_in_secs: None,
                    idempotency_key: key,
                });
                self.money_after(sealed_for, body, |r: results::RequestMade| {
                    Done::Requested(vec![r.request])
                });
            }
            Effect::DeclineRequest(request_id) => {
                self.send_money(
                    RequestBody::DeclineRequest(requests::DeclineRequest { request_id }),
                    |r: results::RequestMade| Done::RequestClosed(r.request),
                );
            }
            Effect::CancelRequest(request_id) => {
                self.send_money(
                    RequestBody::CancelRequest(requests::CancelRequest { request_id }),
                    |r: results::RequestMade| Done::RequestClosed(r.request),
                );
            }
            Effect::Split {
                conversation_id,
                amount,
                memo,
                key,
            } => {
                let body = RequestBody::Split(requests::Split {
                    conversation_id,
                    amount,
                    memo,
                    idempotency_key: key,
                    includes_me: true,
                });
                self.send_money(body, |r: results::Requests| Done::Requested(r.requests));
            }
            other => misrouted(&other),
        }
    }

    /// The wallet: its balance, top-ups, payouts and the statement.
    pub(super) fn wallet(&self, effect: Effect) {
        match effect {
            Effect::LoadBalance => self.request(RequestBody::Balance, |r: results::Balance| {
                Some(Done::Balance(r.balances))
            }),
            Effect::Topup { amount, key } => {
                let body = RequestBody::Topup(requests::Topup {
                    amount,
                    idempotency_key: key,
                    provider: None,
                });
                self.send_money(body, Done::TopupStarted);
            }
            Effect::Withdraw {
                amount,
                bank_account,
                key,
                pin,
            } => {
                let body = RequestBody::Withdraw(requests::Withdraw {
                    amount,
                    bank_account,
                    idempotency_key: key,
                    provider: None,
                    pin,
                });
                self.send_money(body, Done::Withdrawn);
            }
            Effect::LoadFundings => self.request(RequestBody::Fundings, |r: results::Fundings| {
                Some(Done::Fundings(r.fundings))
            }),
            Effect::LoadStatement => {
                let body = RequestBody::Statement(requests::Statement {
                    before: None,
                    limit: requests::MAX_STATEMENT_LIMIT,
                });
                self.request(body, |r: results::Statement| Some(Done::Statement(r.lines)));
            }
            Effect::ExportStatement(lines) => self.export(lines),
            other => misrouted(&other),
        }
    }

    /// Sends a money request; a refusal keeps its code, so the modal can react to it (ask for
    /// the PIN, offer a retry with the same idempotency key).
    pub(super) fn send_money<T, F>(&self, body: RequestBody, on_reply: F)
    where
        T: DeserializeOwned + Send + 'static,
        F: FnOnce(T) -> Done + Send + 'static,
    {
        self.money_after(None, body, on_reply);
    }

    /// As [`Executor::send_money`]; with `sealed_for`, that person's devices (and this user's) are
    /// checked first, as sealing the memo will need, so a changed key stops the money, not
    /// only its memo.
    pub(super) fn money_after<T, F>(
        &self,
        sealed_for: Option<String>,
        body: RequestBody,
        on_reply: F,
    ) where
        T: DeserializeOwned + Send + 'static,
        F: FnOnce(T) -> Done + Send + 'static,
    {
        let session = self.session.clone();
        let done = self.done.clone();
        tokio::spawn(async move {
            if let Some(other) = sealed_for
                && let Err(error) = session.secret_ready(other).await
            {
                let message = format!("{}; nothing moved", why_not_sent(&error));
                let failed = Done::MoneyFailed {
                    code: ErrorCode::Forbidden,
                    message,
                };
                let _ = done.send(failed).await;
                return;
            }
            let outcome = match session.request::<T>(body).await {
                Ok(reply) => on_reply(reply),
                Err(SessionError::Request(RequestError::Api(error))) => Done::MoneyFailed {
                    code: error.code,
                    message: error.message,
                },
                Err(error) => Done::MoneyFailed {
                    code: ErrorCode::Internal,
                    message: format!("{error}; Enter retries safely"),
                },
            };
            let _ = done.send(outcome).await;
        });
    }

    /// Writes the statement to `statement-DATE-TIME.csv` in the export directory.
    pub(super) fn export(&self, lines: Vec<crate::protocol::payments::StatementLine>) {
        let name = chrono::Utc::now()
            .format("statement-%Y%m%d-%H%M%S.csv")
            .to_string();
        let path = self.export_dir.join(name);
        let done = self.done.clone();
        tokio::spawn(async move {
            let written = tokio::task::spawn_blocking(move || {
                let file = std::fs::File::create(&path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                crate::export::statement_csv(&lines, file)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Ok(path.display().to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("export failed: {e}")));
            let _ = done.send(Done::Exported(written)).await;
        });
    }
}
