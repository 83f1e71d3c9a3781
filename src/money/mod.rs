//! Money: integer minor units plus an ISO 4217 currency. No float anywhere: parsing reads
//! decimal text digit by digit, formatting writes digits back. An amount that cannot be
//! represented exactly (too many decimals, too large) is an error, never rounded.

mod currency;

pub use currency::{Currency, CurrencyInfo};

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in one currency. `amount_minor` is in the currency's smallest unit (cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

/// "no decimal places", "1 decimal place", "3 decimal places".
fn places(count: u32) -> String {
    match count {
        0 => "no decimal places".to_owned(),
        1 => "1 decimal place".to_owned(),
        n => format!("{n} decimal places"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{text:?} is not an amount: {reason}")]
    Syntax { text: String, reason: &'static str },
    #[error("{text:?}: {currency} has {}, not {decimals}", places(*allowed))]
    TooPrecise {
        text: String,
        decimals: usize,
        currency: Currency,
        allowed: u32,
    },
    #[error("the amount must be more than zero")]
    Zero,
    #[error("amounts cannot be negative: {text:?}")]
    Negative { text: String },
    #[error("{text:?} is too large an amount")]
    Overflow { text: String },
    #[error("{0}")]
    Currency(String),
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Money {
        Money {
            amount_minor,
            currency,
        }
    }

    /// Parses a positive amount in `currency`: digits, then optionally a point and at most
    /// the currency's decimal places ("12", "12.5", "12.50"). Nothing else: no spaces, sign,
    /// grouping or exponent, a digit on each side of the point. docs/PROTOCOL.md has the
    /// grammar; each refusal says which rule the text broke.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        check_amount_syntax(text)?;
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let allowed = currency.exponent();
        if fraction.len() > allowed as usize {
            return Err(MoneyError::TooPrecise {
                text: text.into(),
                decimals: fraction.len(),
                currency,
                allowed,
            });
        }
        let overflow = || MoneyError::Overflow { text: text.into() };
        let mut minor: i64 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or_else(overflow)?;
        }
        let scale = 10_i64.pow(allowed - fraction.len() as u32);
        let minor = minor.checked_mul(scale).ok_or_else(overflow)?;
        if minor == 0 {
            return Err(MoneyError::Zero);
        }
        Ok(Money::new(minor, currency))
    }

    /// Parses "12.50 EUR" (one space, the code in capitals) or, given a default currency,
    /// "12.50" alone.
    pub fn parse_with_currency(text: &str, default: Option<Currency>) -> Result<Money, MoneyError> {
        match text.split_once(' ') {
            Some((amount, code)) => {
                // The amount's mistake first: in "EUR 5" it is the order, not a currency "5".
                check_amount_syntax(amount)?;
                Money::parse(
                    amount,
                    Currency::from_code(code).map_err(MoneyError::Currency)?,
                )
            }
            None => {
                let currency = default.ok_or_else(|| {
                    MoneyError::Currency(format!("{text:?} needs a currency, like \"{text} EUR\""))
                })?;
                Money::parse(text, currency)
            }
        }
    }

    /// Cuts the amount into `people` parts that sum to it exactly and differ by at most one
    /// minor unit, the larger parts first (`€10.00` by 3: `€3.34, €3.33, €3.33`). `None` when
    /// someone's part would be zero.
    pub fn shares(&self, people: usize) -> Option<Vec<Money>> {
        let people_i64 = i64::try_from(people).ok().filter(|&n| n > 0)?;
        let (share, remainder) = (
            self.amount_minor / people_i64,
            self.amount_minor % people_i64,
        );
        if share <= 0 {
            return None;
        }
        let parts: Vec<Money> = (0..people_i64)
            .map(|i| Money::new(share + i64::from(i < remainder), self.currency))
            .collect();
        debug_assert_eq!(
            parts.iter().map(|p| p.amount_minor).sum::<i64>(),
            self.amount_minor
        );
        Some(parts)
    }

    /// The amount as plain decimal digits, without symbol or grouping: "1234.50".
    pub fn decimal(&self) -> String {
        let exponent = self.currency.exponent() as usize;
        let digits = self.amount_minor.unsigned_abs().to_string();
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        if exponent == 0 {
            return format!("{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = exponent + 1);
        let (whole, fraction) = padded.split_at(padded.len() - exponent);
        format!("{sign}{whole}.{fraction}")
    }
}

/// "€1,234.50", "-$3.00", "¥1,235", "BHD 1.250": symbol, thousands grouped, all decimals shown.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decimal = self.decimal();
        let (sign, unsigned) = match decimal.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", decimal.as_str()),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (unsigned, None),
        };
        let mut grouped = String::new();
        for (index, digit) in whole.chars().enumerate() {
            if index > 0 && (whole.len() - index) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        write!(f, "{sign}{}{grouped}", self.currency.symbol())?;
        if let Some(fraction) = fraction {
            write!(f, ".{fraction}")?;
        }
        Ok(())
    }
}

/// Why a wallet holding `held` cannot pay `amount`, or `None` when it can: "you hold no USD:
/// you hold €100.00", "€500.00 is more than your €100.00".
pub fn shortfall(held: &[Money], amount: Money) -> Option<String> {
    let balance = held
        .iter()
        .find(|b| b.currency == amount.currency)
        .map_or(0, |b| b.amount_minor);
    if balance >= amount.amount_minor {
        return None;
    }
    if balance > 0 {
        let balance = Money::new(balance, amount.currency);
        return Some(format!("{amount} is more than your {balance}"));
    }
    let what = if held.is_empty() {
        "your wallet is empty".to_owned()
    } else {
        let shown: Vec<String> = held.iter().map(ToString::to_string).collect();
        format!("you hold {}", shown.join(", "))
    };
    Some(format!("you hold no {}: {what}", amount.currency))
}

const NOT_DIGITS: &str = "write digits with at most one '.', like 12.50";

fn check_amount_syntax(text: &str) -> Result<(), MoneyError> {
    match amount_syntax_error(text) {
        None => Ok(()),
        Some(NOT_DIGITS) if text.starts_with('-') => {
            Err(MoneyError::Negative { text: text.into() })
        }
        Some(reason) => Err(MoneyError::Syntax {
            text: text.into(),
            reason,
        }),
    }
}

/// Which rule of the amount grammar `text` breaks, if any (decimal places aside).
fn amount_syntax_error(text: &str) -> Option<&'static str> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let reason = if text.is_empty() {
        "it is empty; write digits, like 12.50"
    } else if text.contains(char::is_whitespace) {
        "no spaces inside or around an amount; write it like 12.50"
    } else if text.starts_with('+') {
        "write it without a sign, like 12.50"
    } else if text.contains(',') {
        "write the decimal point as '.' and no thousands separators, like 1234.50"
    } else if fraction.is_some_and(|f| f.contains('.')) {
        "it has more than one '.'"
    } else if whole.is_empty() && fraction.is_some_and(digits) {
        "write a digit before the point, like 0.50"
    } else if digits(whole) && fraction == Some("") {
        "write digits after the point, like 5.00, or no point, like 5"
    } else if digits(whole) && fraction.is_none_or(digits) {
        return None;
    } else {
        NOT_DIGITS
    };
    Some(reason)
}

#[cfg(test)]
mod tests;
