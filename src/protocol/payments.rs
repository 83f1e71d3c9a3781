//! What the wire says about money: transfers, payment requests, the cards they put in a
//! conversation, and statements. Amounts are always [`Money`]: minor units and a currency.

use super::types::{ConversationId, TimestampMs};
use super::user::User;
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest memo in characters.
pub const MAX_MEMO_CHARS: usize = 200;
/// Longest idempotency key in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransferId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentRequestId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InvoiceId(pub i64);

impl fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for PaymentRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Chosen by the client for each money-moving request (a UUID is a good choice) and reused
/// for every retry of it: the server applies a key once, whatever happens to the replies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    pub fn random() -> Self {
        IdempotencyKey(uuid::Uuid::new_v4().to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// A person paid another.
    Payment,
    /// A payment request was paid.
    Request,
    /// Money entered the system from issuance (`quid admin mint`).
    Mint,
    /// A merchant's invoice was paid.
    Invoice,
    /// A merchant gave back (part of) an invoice's payment.
    Refund,
    /// Money came in through a payment partner (a top-up), from its clearing account.
    Topup,
    /// Money left for a bank account through a payment partner, into its clearing account.
    Payout,
    /// A payout failed: its money came back from the clearing account.
    PayoutReturn,
}

impl TransferKind {
    const ALL: [TransferKind; 8] = [
        TransferKind::Payment,
        TransferKind::Request,
        TransferKind::Mint,
        TransferKind::Invoice,
        TransferKind::Refund,
        TransferKind::Topup,
        TransferKind::Payout,
        TransferKind::PayoutReturn,
    ];

    /// The name on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Payment => "payment",
            TransferKind::Request => "request",
            TransferKind::Mint => "mint",
            TransferKind::Invoice => "invoice",
            TransferKind::Refund => "refund",
            TransferKind::Topup => "topup",
            TransferKind::Payout => "payout",
            TransferKind::PayoutReturn => "payout_return",
        }
    }

    pub fn parse(text: &str) -> Option<TransferKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// What a statement says in place of the other person for a transfer with none: money
    /// from issuance or through a payment partner.
    pub fn unnamed_side(self) -> &'static str {
        match self {
            TransferKind::Topup => "top-up",
            TransferKind::Payout => "withdrawal",
            TransferKind::PayoutReturn => "withdrawal returned",
            _ => "funds added",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: TransferId,
    pub kind: TransferKind,
    /// `None` for a mint: the money came from issuance.
    pub from: Option<User>,
    pub to: User,
    pub amount: Money,
    pub memo: String,
    pub conversation_id: Option<ConversationId>,
    pub request_id: Option<PaymentRequestId>,
    pub created_at: TimestampMs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Open,
    Paid,
    Declined,
    Cancelled,
    Expired,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Open => "open",
            RequestStatus::Paid => "paid",
            RequestStatus::Declined => "declined",
            RequestStatus::Cancelled => "cancelled",
            RequestStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<RequestStatus> {
        [
            RequestStatus::Open,
            RequestStatus::Paid,
            RequestStatus::Declined,
            RequestStatus::Cancelled,
            RequestStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub id: PaymentRequestId,
    pub conversation_id: ConversationId,
    /// Who asked for the money (and receives it).
    pub requester: User,
    /// Who is asked to pay.
    pub payer: User,
    pub amount: Money,
    pub memo: String,
    pub status: RequestStatus,
    pub expires_at: Option<TimestampMs>,
    pub created_at: TimestampMs,
    /// The transfer that paid it, once paid.
    pub transfer_id: Option<TransferId>,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub name: String,
    pub quantity: u32,
    /// Price of one, in the invoice's currency's minor units.
    pub unit_price_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Open,
    Paid,
    Expired,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<InvoiceStatus> {
        [
            InvoiceStatus::Open,
            InvoiceStatus::Paid,
            InvoiceStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A merchant bot's bill to a buyer, with the total the server computed from the items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: InvoiceId,
    pub conversation_id: ConversationId,
    pub merchant: User,
    pub buyer: User,
    pub items: Vec<LineItem>,
    pub total: Money,
    /// The merchant's own reference (an order id), handed back when the invoice is paid.
    pub payload: String,
    pub status: InvoiceStatus,
    pub expires_at: Option<TimestampMs>,
    pub created_at: TimestampMs,
    pub transfer_id: Option<TransferId>,
    /// How much of the payment the merchant has given back.
    pub refunded: Money,
}

/// A payment or a request shown as a card in the conversation, in place of message text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Card {
    Payment {
        transfer: Transfer,
    },
    /// Always the request's current state, also in history.
    Request {
        request: PaymentRequest,
    },
    /// Always the invoice's current state, also in history.
    Invoice {
        invoice: Invoice,
    },
    Refund {
        transfer: Transfer,
        invoice_id: InvoiceId,
    },
}

impl Card {
    /// The client id of the message that carries this card's sealed memo, if its memo is
    /// sealed (a payment or request in a secret conversation).
    pub fn sealed_memo_client_id(&self) -> Option<super::ClientMsgId> {
        sealed_memo_client_id(self.memo()?)
    }

    /// Says the sealed memo expired, once the message that carried it has disappeared.
    pub fn mark_memo_expired(&mut self) {
        let memo = match self {
            Card::Payment { transfer } => &mut transfer.memo,
            Card::Request { request } => &mut request.memo,
            Card::Invoice { .. } | Card::Refund { .. } => return,
        };
        if is_sealed_memo(memo) {
            *memo = EXPIRED_MEMO.to_owned();
        }
    }

    fn memo(&self) -> Option<&str> {
        match self {
            Card::Payment { transfer } => Some(&transfer.memo),
            Card::Request { request } => Some(&request.memo),
            Card::Invoice { .. } | Card::Refund { .. } => None,
        }
    }
}

/// One line of a statement: a transfer as it touched your wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub transfer_id: TransferId,
    pub kind: TransferKind,
    pub at: TimestampMs,
    /// Positive in, negative out.
    pub amount: Money,
    /// Your balance in that currency after this transfer.
    pub balance_after: Money,
    /// The other side; `None` for a mint.
    pub counterparty: Option<User>,
    pub memo: String,
}

/// What a payment's memo says in a secret conversation: a reference to the memo, which
/// travels sealed beside the card. The ledger keeps only this.
const SEALED_MEMO_PREFIX: &str = "sealed:";
const SEALED_MEMO_TOKEN_CHARS: usize = 16;

/// The reference of a payment's sealed memo: `sealed:` and 16 hex digits of the payment's
/// idempotency key, so that a retry names the same memo (and the payment stays the same one).
pub fn sealed_memo_reference(key: &IdempotencyKey) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.0.as_bytes());
    let token: String = digest
        .iter()
        .take(SEALED_MEMO_TOKEN_CHARS / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{SEALED_MEMO_PREFIX}{token}")
}

/// A memo as people should read it: a sealed memo's reference says where the memo is.
pub fn readable_memo(memo: &str) -> &str {
    match is_sealed_memo(memo) {
        true => "🔒 memo sealed in the conversation",
        false => memo,
    }
}

/// What a card says of its sealed memo once the message that carried it has disappeared.
pub const EXPIRED_MEMO: &str = "🔒 memo expired";

/// The client id of the message that carries the sealed memo `reference` (None: `reference`
/// is a memo in the clear). Derived from the reference, so that any member can tell which
/// message is a card's memo, and a retried memo is the same message.
pub fn sealed_memo_client_id(reference: &str) -> Option<super::ClientMsgId> {
    use sha2::Digest;
    if !is_sealed_memo(reference) {
        return None;
    }
    let digest = sha2::Sha256::digest(format!("quid sealed memo\n{reference}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    Some(super::ClientMsgId(id))
}

/// Whether `memo` is a sealed memo's reference.
pub fn is_sealed_memo(memo: &str) -> bool {
    memo.strip_prefix(SEALED_MEMO_PREFIX).is_some_and(|token| {
        token.len() == SEALED_MEMO_TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_memo_is_a_reference_and_nothing_else() {
        let key = IdempotencyKey::random();
        assert!(is_sealed_memo(&sealed_memo_reference(&key)));
        assert_eq!(sealed_memo_reference(&key), sealed_memo_reference(&key));
        for memo in [
            "lunch",
            "sealed:",
            "sealed:lunch at noon!",
            "sealed:0123456789abcdefff",
        ] {
            assert!(!is_sealed_memo(memo), "{memo}");
            assert_eq!(sealed_memo_client_id(memo), None, "{memo}");
        }
        let reference = sealed_memo_reference(&key);
        let other = sealed_memo_reference(&IdempotencyKey::random());
        assert_eq!(
            sealed_memo_client_id(&reference),
            sealed_memo_client_id(&reference)
        );
        assert_ne!(
            sealed_memo_client_id(&reference),
            sealed_memo_client_id(&other)
        );
    }
}
