//! The error half of every reply: a stable machine-readable code and a human message.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable error codes. Clients match on these; the message is for people.
/// Adding a code is a compatible change (an older client reads it as [`ErrorCode::Other`]);
/// renaming or removing one is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON or does not have the fields its type needs.
    BadFrame,
    /// The frame's `type` is not one this protocol version knows.
    UnknownType,
    /// The frame is larger than the server's limit; the connection is closed.
    FrameTooLarge,
    /// The hello asked for a protocol version the server does not speak.
    UnsupportedVersion,
    /// Another request came before the hello.
    HelloRequired,
    /// The request needs a logged-in connection (or, for register/login, an anonymous one).
    Unauthenticated,
    /// Username or password is wrong.
    InvalidCredentials,
    /// The username is already registered.
    UsernameTaken,
    /// A field has a value the server does not accept; the message says which and why.
    InvalidArgument,
    /// The user, conversation or message does not exist (or is not visible to you).
    NotFound,
    /// You are not a member of that conversation, or may not do that to it.
    Forbidden,
    /// The name is already used (for example a group name among your conversations).
    Conflict,
    /// Too many requests on this connection; retry after `retry_after_ms`.
    RateLimited,
    /// The server failed; the request may be retried.
    Internal,
    /// The server cannot reach its database for now (it restarts); retry after
    /// `retry_after_ms`. Nothing was done.
    Unavailable,
    /// The payer's wallet holds less than the amount.
    InsufficientFunds,
    /// Paying or asking yourself.
    SelfPayment,
    /// The idempotency key was used before with other parameters.
    IdempotencyConflict,
    /// Over a per-transfer or per-day limit; the message names the limit.
    LimitExceeded,
    RequestAlreadyPaid,
    RequestDeclined,
    RequestCancelled,
    RequestExpired,
    /// The account has a payment PIN and the request carried none.
    PinRequired,
    WrongPin,
    /// Too many wrong PINs: payments are locked for a while; the message says until when.
    PinLocked,
    InvoiceAlreadyPaid,
    InvoiceExpired,
    /// The invoice's `total_minor` is not the sum of its items.
    InvoiceTotalMismatch,
    /// A refund above what is left of the payment.
    RefundExceedsPayment,
    /// A search query that cannot be read; the message says at which column and why.
    BadQuery,
    /// The payment partner said no (a currency or amount it does not take); the message is
    /// its reason. Asking again will not help.
    PartnerRefused,
    /// The server has no payment partner, or it cannot be reached now; try again later.
    PartnerUnavailable,
    /// A file over the server's size limit (`quid serve --max-file-bytes`); nothing is stored.
    FileTooLarge,
    /// The file would take the user past the bytes the server keeps for them; nothing is
    /// stored. Files no message refers to go after a day, and with them their share.
    QuotaExceeded,
    /// A code this client does not know, from a newer server: its message says what
    /// happened. Never sent.
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// Whether the same request, tried again later, may succeed: the way there failed, not
    /// the request.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::Unavailable
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::InsufficientFunds => "insufficient_funds",
            ErrorCode::SelfPayment => "self_payment",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::RequestAlreadyPaid => "request_already_paid",
            ErrorCode::RequestDeclined => "request_declined",
            ErrorCode::RequestCancelled => "request_cancelled",
            ErrorCode::RequestExpired => "request_expired",
            ErrorCode::PinRequired => "pin_required",
            ErrorCode::WrongPin => "wrong_pin",
            ErrorCode::PinLocked => "pin_locked",
            ErrorCode::InvoiceAlreadyPaid => "invoice_already_paid",
            ErrorCode::InvoiceExpired => "invoice_expired",
            ErrorCode::InvoiceTotalMismatch => "invoice_total_mismatch",
            ErrorCode::RefundExceedsPayment => "refund_exceeds_payment",
            ErrorCode::BadQuery => "bad_query",
            ErrorCode::PartnerRefused => "partner_refused",
            ErrorCode::PartnerUnavailable => "partner_unavailable",
            ErrorCode::FileTooLarge => "file_too_large",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::Other => "other",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a client is told to wait while the server's database is away: a restart of
/// PostgreSQL takes a few seconds.
pub const UNAVAILABLE_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// A refused request, as the server sends it and the client receives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// With `rate_limited` and `unavailable`: how long to wait before trying again.
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// `rate_limited`: `what` was refused; try again after `wait`.
    pub fn rate_limited(wait: std::time::Duration, what: &str) -> Self {
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        let when = match ms {
            ..1000 => format!("{ms} ms"),
            _ => format!("{} s", ms.div_ceil(1000)),
        };
        Self {
            code: ErrorCode::RateLimited,
            message: format!("{what}; retry in {when}"),
            retry_after_ms: Some(ms),
        }
    }

    /// `unavailable`: the database cannot be reached; try again after [`UNAVAILABLE_RETRY`].
    pub fn unavailable() -> Self {
        let wait = UNAVAILABLE_RETRY;
        Self {
            code: ErrorCode::Unavailable,
            message: format!(
                "the server cannot reach its database for now; retry in {} s",
                wait.as_secs()
            ),
            retry_after_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// An internal failure. The detail goes to the server log, not to the peer.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal server error; try again")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_from_a_newer_server_is_read_as_other() {
        let code: ErrorCode = serde_json::from_str(r#""teleport_refused""#).unwrap();
        assert_eq!(code, ErrorCode::Other);
        assert!(
            !code.is_transient(),
            "not retried: nobody knows what it means"
        );
        let known: ErrorCode = serde_json::from_str(r#""unavailable""#).unwrap();
        assert_eq!(known, ErrorCode::Unavailable);
    }
}
