//! The amount parser takes what people type: any text gets an amount or an error that says
//! what was wrong, never a panic; an amount it accepts prints back to the same amount.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quid::money::{Currency, Money};

fuzz_target!(|text: &str| {
    for currency in [
        None,
        Currency::from_code("EUR").ok(),
        Currency::from_code("JPY").ok(),
    ] {
        match Money::parse_with_currency(text, currency) {
            Ok(money) => {
                assert!(money.amount_minor > 0);
                assert_eq!(Money::parse(&money.decimal(), money.currency), Ok(money));
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
});
