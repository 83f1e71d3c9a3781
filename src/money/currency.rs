//! ISO 4217 currencies quid knows: code, minor-unit exponent, and how people write them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrencyInfo {
    pub code: &'static str,
    /// Digits after the decimal point: EUR 2, JPY 0, BHD 3.
    pub exponent: u32,
    /// Written before the amount: "€", "$", "CHF ".
    pub symbol: &'static str,
}

/// The currencies quid accepts. Adding one is adding a line.
const CURRENCIES: &[CurrencyInfo] = &[
    CurrencyInfo {
        code: "EUR",
        exponent: 2,
        symbol: "€",
    },
    CurrencyInfo {
        code: "USD",
        exponent: 2,
        symbol: "$",
    },
    CurrencyInfo {
        code: "GBP",
        exponent: 2,
        symbol: "£",
    },
    CurrencyInfo {
        code: "CHF",
        exponent: 2,
        symbol: "CHF ",
    },
    CurrencyInfo {
        code: "CAD",
        exponent: 2,
        symbol: "CA$",
    },
    CurrencyInfo {
        code: "AUD",
        exponent: 2,
        symbol: "A$",
    },
    CurrencyInfo {
        code: "SEK",
        exponent: 2,
        symbol: "SEK ",
    },
    CurrencyInfo {
        code: "NOK",
        exponent: 2,
        symbol: "NOK ",
    },
    CurrencyInfo {
        code: "DKK",
        exponent: 2,
        symbol: "DKK ",
    },
    CurrencyInfo {
        code: "PLN",
        exponent: 2,
        symbol: "PLN ",
    },
    CurrencyInfo {
        code: "INR",
        exponent: 2,
        symbol: "₹",
    },
    CurrencyInfo {
        code: "CNY",
        exponent: 2,
        symbol: "CN¥",
    },
    CurrencyInfo {
        code: "JPY",
        exponent: 0,
        symbol: "¥",
    },
    CurrencyInfo {
        code: "KRW",
        exponent: 0,
        symbol: "₩",
    },
    CurrencyInfo {
        code: "ISK",
        exponent: 0,
        symbol: "ISK ",
    },
    CurrencyInfo {
        code: "BHD",
        exponent: 3,
        symbol: "BHD ",
    },
    CurrencyInfo {
        code: "KWD",
        exponent: 3,
        symbol: "KWD ",
    },
];

/// A known currency. Copy, compare and hash like a code; only known codes can exist.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(&'static CurrencyInfo);

impl Currency {
    /// Looks up an exact code: three capitals ("EUR"). "eur" or " EUR" is refused, naming
    /// the right spelling, so that the CLI, the TUI and the wire read currencies alike.
    pub fn from_code(code: &str) -> Result<Currency, String> {
        if let Some(info) = CURRENCIES.iter().find(|c| c.code == code) {
            return Ok(Currency(info));
        }
        let spelled = code.trim().to_ascii_uppercase();
        match CURRENCIES.iter().find(|c| c.code == spelled) {
            Some(info) => Err(format!(
                "currency {code:?} must be written {:?}: three capitals, no spaces",
                info.code
            )),
            None => {
                let known: Vec<_> = CURRENCIES.iter().map(|c| c.code).collect();
                Err(format!(
                    "unknown currency {code:?}; quid knows {}",
                    known.join(", ")
                ))
            }
        }
    }

    pub fn code(self) -> &'static str {
        self.0.code
    }

    pub fn exponent(self) -> u32 {
        self.0.exponent
    }

    pub fn symbol(self) -> &'static str {
        self.0.symbol
    }

    /// Minor units in one major unit: 100 for EUR, 1 for JPY.
    pub fn minor_per_major(self) -> i64 {
        10_i64.pow(self.0.exponent)
    }

    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(Currency)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.code)
    }
}

/// On the wire a currency is its exact ISO 4217 code: "EUR", never "eur" or " EUR".
impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}
