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
    #[error("{text:?} is not an amount: write digits with at most one '.', like 12.50")]
    Syntax { text: String },
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

    /// Parses a positive amount such as "12.5" or "12.50" (the same) or "1200" in `currency`.
    /// Zero, negatives, too many decimals and overflow are errors.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let trimmed = text.trim();
        if trimmed.starts_with('-') {
            return Err(MoneyError::Negative { text: text.into() });
        }
        let syntax = || MoneyError::Syntax { text: text.into() };
        let (whole, fraction) = match trimmed.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (trimmed, ""),
        };
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty())
            || !digits_only(whole)
            || !digits_only(fraction)
        {
            return Err(syntax());
        }
        if trimmed.ends_with('.') {
            return Err(syntax());
        }
        let significant = fraction.trim_end_matches('0');
        let allowed = currency.exponent();
        if significant.len() > allowed as usize {
            return Err(MoneyError::TooPrecise {
                text: text.into(),
                decimals: significant.len(),
                currency,
                allowed,
            });
        }
        let overflow = || MoneyError::Overflow { text: text.into() };
        let mut minor: i64 = 0;
        for digit in whole.bytes().chain(significant.bytes()) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or_else(overflow)?;
        }
        let scale = 10_i64.pow(allowed - significant.len() as u32);
        let minor = minor.checked_mul(scale).ok_or_else(overflow)?;
        if minor == 0 {
            return Err(MoneyError::Zero);
        }
        Ok(Money::new(minor, currency))
    }

    /// Parses "12.50 EUR", "12.50" with a default currency, or "EUR 12.50".
    pub fn parse_with_currency(text: &str, default: Option<Currency>) -> Result<Money, MoneyError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [amount] => {
                let currency = default.ok_or_else(|| {
                    MoneyError::Currency(format!(
                        "{text:?} needs a currency, like \"{amount} EUR\""
                    ))
                })?;
                Money::parse(amount, currency)
            }
            [amount, code] if code.chars().all(|c| c.is_ascii_alphabetic()) => Money::parse(
                amount,
                Currency::from_code(code).map_err(MoneyError::Currency)?,
            ),
            [code, amount] => Money::parse(
                amount,
                Currency::from_code(code).map_err(MoneyError::Currency)?,
            ),
            _ => Err(MoneyError::Syntax { text: text.into() }),
        }
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

#[cfg(test)]
mod tests;
