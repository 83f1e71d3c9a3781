//! Money in and out of quid through a payment partner: a top-up funds a wallet from a card at
//! the partner's checkout page; a payout empties part of it to a bank account. Each is a
//! [`Funding`], pending until the partner says how it ended.

use super::payments::{IdempotencyKey, TransferId};
use super::types::TimestampMs;
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest bank account (an IBAN has at most 34 characters).
pub const MAX_BANK_ACCOUNT_CHARS: usize = 34;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FundingId(pub i64);

impl fmt::Display for FundingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingKind {
    /// Money in: the person pays the partner, quid credits the wallet.
    Topup,
    /// Money out: quid debits the wallet, the partner pays the bank account.
    Payout,
}

impl FundingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FundingKind::Topup => "topup",
            FundingKind::Payout => "payout",
        }
    }

    pub fn parse(text: &str) -> Option<FundingKind> {
        [FundingKind::Topup, FundingKind::Payout]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingStatus {
    /// Waiting for the person (checkout) or the partner (a payout on its way).
    Pending,
    /// A top-up's money is in the wallet; a payout's has reached the bank.
    Succeeded,
    /// Declined, cancelled or returned: a top-up credited nothing, a payout's money is back.
    Failed,
}

impl FundingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FundingStatus::Pending => "pending",
            FundingStatus::Succeeded => "succeeded",
            FundingStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<FundingStatus> {
        [
            FundingStatus::Pending,
            FundingStatus::Succeeded,
            FundingStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        self != FundingStatus::Pending
    }
}

/// A top-up or a payout, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funding {
    pub id: FundingId,
    pub kind: FundingKind,
    /// The partner's name in the server's configuration (`sandbox`, `stripe`).
    pub provider: String,
    pub amount: Money,
    pub status: FundingStatus,
    /// Why it failed, in the partner's words ("card declined"); empty otherwise.
    #[serde(default)]
    pub reason: String,
    /// A top-up's checkout page, where the person pays; `None` until the partner made one.
    #[serde(default)]
    pub checkout_url: Option<String>,
    /// A payout's bank account, all but its last four characters hidden.
    #[serde(default)]
    pub bank_account: Option<String>,
    /// The ledger transfer: a top-up's credit, a payout's debit.
    #[serde(default)]
    pub transfer_id: Option<TransferId>,
    pub created_at: TimestampMs,
    pub updated_at: TimestampMs,
}

/// The longest checkout address quid takes from a partner.
pub const MAX_CHECKOUT_URL_BYTES: usize = 2048;

/// Whether `url` is a page a person can be sent to pay at: an `http` or `https` address with
/// a host, no spaces or control characters, at most `MAX_CHECKOUT_URL_BYTES`. A
/// `javascript:`, `file:` or `data:` address, or one that carries terminal escapes, is
/// refused: the server checks what a partner made, and clients check what the server says,
/// before showing, opening or copying it.
pub fn validate_checkout_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_CHECKOUT_URL_BYTES {
        return Err(format!(
            "the checkout address is {} bytes; at most {MAX_CHECKOUT_URL_BYTES}",
            url.len()
        ));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the checkout address holds spaces or control characters".into());
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("the checkout address: {e}"))?;
    match (parsed.scheme(), parsed.host_str()) {
        ("http" | "https", Some(host)) if !host.is_empty() => Ok(()),
        ("http" | "https", _) => Err("the checkout address names no host".into()),
        (scheme, _) => Err(format!(
            "the checkout address is a {scheme}: address, not a web page (http or https)"
        )),
    }
}

/// Whether `account` looks like an IBAN: two letters, two check digits, up to 30 letters or
/// digits, spaces allowed, and the ISO 13616 checksum (mod 97) right. Returns it compact
/// and in capitals, or what is wrong with it.
pub fn normalize_iban(account: &str) -> Result<String, String> {
    let compact: String = account
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if compact.chars().count() < 15 || compact.chars().count() > MAX_BANK_ACCOUNT_CHARS {
        return Err(format!(
            "a bank account (IBAN) has 15 to {MAX_BANK_ACCOUNT_CHARS} characters, not {}",
            compact.chars().count()
        ));
    }
    if !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("a bank account (IBAN) has only letters, digits and spaces".into());
    }
    let (country, check) = (&compact[..2], &compact[2..4]);
    if !country.chars().all(|c| c.is_ascii_alphabetic())
        || !check.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!(
            "an IBAN starts with a country code and two check digits, not {:?}",
            &compact[..4]
        ));
    }
    if iban_remainder(&compact) != 1 {
        return Err(format!(
            "{compact} is not a valid IBAN: its check digits are wrong"
        ));
    }
    Ok(compact)
}

/// ISO 13616: the first four characters moved to the end, letters as 10..35, mod 97.
fn iban_remainder(compact: &str) -> u32 {
    let rotated = compact[4..].chars().chain(compact[..4].chars());
    rotated.fold(0, |acc, c| {
        let value = c.to_digit(36).unwrap_or(0);
        if value >= 10 {
            (acc * 100 + value) % 97
        } else {
            (acc * 10 + value) % 97
        }
    })
}

/// An account with all but its last four characters hidden, as quid shows and stores it
/// beside a payout: enough to recognise, not enough to reuse.
pub fn masked_account(compact: &str) -> String {
    let count = compact.chars().count();
    let tail: String = compact.chars().skip(count.saturating_sub(4)).collect();
    format!("{}•••{tail}", compact.chars().take(2).collect::<String>())
}

/// The key a partner sees for a funding: derived from the caller's key and the user, so that
/// a retry reaches the partner with the same key and two users' keys never meet there.
pub fn partner_key(user: super::UserId, key: &IdempotencyKey) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}|{}", user.0, key.0));
    format!("quid-{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_pages_pass_as_checkout_addresses() {
        assert!(validate_checkout_url("https://pay.example/c/1?x=2").is_ok());
        assert!(validate_checkout_url("http://127.0.0.1:4243/checkout/tu_1").is_ok());
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,hi",
            "https://pay.example/\x1b]52;c;cHduZWQ=\x07",
            "https://pay.example/a b",
            "https://",
            "not a url",
        ] {
            assert!(validate_checkout_url(bad).is_err(), "{bad:?} passed");
        }
        let long = format!("https://pay.example/{}", "a".repeat(MAX_CHECKOUT_URL_BYTES));
        assert!(validate_checkout_url(&long).is_err());
    }

    #[test]
    fn ibans_are_checked_by_their_digits() {
        assert_eq!(
            normalize_iban("de89 3704 0044 0532 0130 00").unwrap(),
            "DE89370400440532013000"
        );
        assert_eq!(
            normalize_iban("GB82WEST12345698765432").unwrap(),
            "GB82WEST12345698765432"
        );
        let wrong = normalize_iban("DE88370400440532013000").unwrap_err();
        assert!(wrong.contains("check digits are wrong"), "{wrong}");
        assert!(normalize_iban("DE89").unwrap_err().contains("15 to 34"));
        assert!(
            normalize_iban("DE89-3704-0044-0532-01")
                .unwrap_err()
                .contains("only letters")
        );
        assert!(
            normalize_iban("1289370400440532013000")
                .unwrap_err()
                .contains("country code")
        );
    }

    #[test]
    fn a_masked_account_keeps_its_country_and_last_four() {
        assert_eq!(masked_account("DE89370400440532013000"), "DE•••3000");
    }

    #[test]
    fn partner_keys_differ_per_user_and_repeat_per_key() {
        let key = IdempotencyKey("k1".into());
        let alice = partner_key(super::super::UserId(1), &key);
        assert_eq!(alice, partner_key(super::super::UserId(1), &key));
        assert_ne!(alice, partner_key(super::super::UserId(2), &key));
        assert!(alice.starts_with("quid-") && alice.len() == 37);
    }
}
