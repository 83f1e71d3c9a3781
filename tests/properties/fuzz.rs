//! Fuzzing the three parsers that take input from outside: the frame decoder (the network),
//! the amount parser (the keyboard and the command line) and the config loader (a file).
//! Each must answer every input with a value or an error that says what was wrong, and never
//! panic. These are proptest's structured inputs (JSON of every shape, real request types,
//! mangled copies of the example config), part of `cargo test` and bounded to 256 cases each
//! (`PROPTEST_CASES=100000` runs longer). The coverage-guided targets in `fuzz/` (cargo-fuzz)
//! take raw bytes at the same three parsers; CI runs each for 20 s.

use proptest::prelude::*;
use quid::money::{Currency, Money};
use quid::protocol::{Request, RequestBody};
use serde_json::{Value, json};
use std::path::Path;

/// JSON values of every shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,16}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Frames that look like requests: a real type and id, with fields of random shapes, some of
/// them named as the real fields are.
fn request_like() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("to"),
        Just("amount"),
        Just("currency"),
        Just("amount_minor"),
        Just("conversation_id"),
        Just("client_id"),
        Just("text"),
        Just("limit"),
        Just("resume_after"),
        Just("idempotency_key"),
        Just("items"),
        Just("version"),
        Just("username"),
        Just("password"),
    ];
    (
        prop::sample::select(RequestBody::TYPES),
        any::<u64>(),
        prop::collection::vec((field, any_json()), 0..6),
    )
        .prop_map(|(kind, id, fields)| {
            let mut frame = json!({"id": id, "type": kind});
            for (name, value) in fields {
                frame[name] = value;
            }
            frame.to_string()
        })
}

proptest! {
    #[test]
    fn the_frame_decoder_answers_any_text(text in ".{0,200}") {
        let _ = Request::parse(&text);
    }

    #[test]
    fn the_frame_decoder_answers_any_json(value in any_json()) {
        let _ = Request::parse(&value.to_string());
    }

    #[test]
    fn a_decoded_request_round_trips(text in request_like()) {
        match Request::parse(&text) {
            Ok(request) => {
                let again = serde_json::to_string(&request).unwrap();
                prop_assert_eq!(Request::parse(&again).ok(), Some(request));
            }
            Err(bad) => prop_assert!(!bad.error.message.is_empty()),
        }
    }

    #[test]
    fn the_amount_parser_answers_any_text(
        text in prop_oneof![".{0,24}", "[-+ .,0-9eE]{0,24}", "[0-9]{0,24}\\.[0-9]{0,6}( [A-Za-z]{3})?"],
    ) {
        let eur = Currency::from_code("EUR").unwrap();
        if let Err(error) = Money::parse(&text, eur) {
            prop_assert!(!error.to_string().is_empty());
        }
        let _ = Money::parse_with_currency(&text, None);
        let _ = Money::parse_with_currency(&text, Some(eur));
    }

    #[test]
    fn every_amount_reads_back_as_itself(minor in 1i64..i64::MAX, index in 0usize..8) {
        let currency = Currency::all().nth(index % Currency::all().count()).unwrap();
        let money = Money::new(minor, currency);
        prop_assert_eq!(Money::parse(&money.decimal(), currency), Ok(money));
    }

    #[test]
    fn the_config_loader_answers_any_text(text in ".{0,300}") {
        if let Err(error) = quid::config::resolve(Path::new("fuzz.toml"), &text, None) {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn the_config_loader_answers_any_mangling_of_the_example(
        cut in 0usize..4000,
        insert in "[\\[\\]=\"a-z0-9 .\n-]{0,12}",
    ) {
        let example = include_str!("../../config.example.toml");
        let cut = example.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(example.len());
        let mangled = format!("{}{insert}{}", &example[..cut], &example[cut..]);
        if let Err(error) = quid::config::resolve(Path::new("fuzz.toml"), &mangled, None) {
            let message = error.to_string();
            prop_assert!(message.contains("fuzz.toml"), "{}", message);
        }
    }
}
