use super::*;
use proptest::prelude::*;

fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}

#[test]
fn parsing_is_exact() {
    assert_eq!(Money::parse("12.5", eur()).unwrap().amount_minor, 1250);
    assert_eq!(
        Money::parse("12.50", eur()).unwrap(),
        Money::parse("12.5", eur()).unwrap()
    );
    assert_eq!(
        Money::parse("12.500", eur()).unwrap().amount_minor,
        1250,
        "trailing zeros are exact"
    );
    assert_eq!(Money::parse("0.01", eur()).unwrap().amount_minor, 1);
    assert_eq!(Money::parse(".5", eur()).unwrap().amount_minor, 50);
    let jpy = Currency::from_code("jpy").unwrap();
    assert_eq!(Money::parse("1200", jpy).unwrap().amount_minor, 1200);
    let bhd = Currency::from_code("BHD").unwrap();
    assert_eq!(Money::parse("1.255", bhd).unwrap().amount_minor, 1255);
}

#[test]
fn bad_amounts_are_clear_errors() {
    assert!(matches!(
        Money::parse("12.505", eur()),
        Err(MoneyError::TooPrecise {
            decimals: 3,
            allowed: 2,
            ..
        })
    ));
    let jpy = Currency::from_code("JPY").unwrap();
    let one_place = Money::parse("1.5", jpy).unwrap_err();
    assert_eq!(
        one_place.to_string(),
        "\"1.5\": JPY has no decimal places, not 1"
    );
    assert_eq!(
        Money::parse("12.505", eur()).unwrap_err().to_string(),
        "\"12.505\": EUR has 2 decimal places, not 3"
    );
    assert_eq!(Money::parse("0", eur()), Err(MoneyError::Zero));
    assert_eq!(Money::parse("0.00", eur()), Err(MoneyError::Zero));
    assert!(matches!(
        Money::parse("-5", eur()),
        Err(MoneyError::Negative { .. })
    ));
    assert!(matches!(
        Money::parse("99999999999999999999", eur()),
        Err(MoneyError::Overflow { .. })
    ));
    for bad in ["", "abc", "1.2.3", "12.", "1e5", "1,000", " . "] {
        assert!(
            matches!(Money::parse(bad, eur()), Err(MoneyError::Syntax { .. })),
            "{bad:?}"
        );
    }
    let error = Money::parse_with_currency("5 XYZ", None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown currency \"XYZ\""), "{error}");
    assert!(
        Money::parse_with_currency("5", None)
            .unwrap_err()
            .to_string()
            .contains("needs a currency")
    );
    assert_eq!(
        Money::parse_with_currency("EUR 5", None)
            .unwrap()
            .amount_minor,
        500
    );
    assert_eq!(
        Money::parse_with_currency("5 eur", None)
            .unwrap()
            .amount_minor,
        500
    );
}

#[test]
fn display_uses_symbol_grouping_and_every_decimal() {
    let show = |minor, code| Money::new(minor, Currency::from_code(code).unwrap()).to_string();
    assert_eq!(show(123_450, "EUR"), "€1,234.50");
    assert_eq!(show(5, "USD"), "$0.05");
    assert_eq!(show(-300, "USD"), "-$3.00");
    assert_eq!(show(1_234_567, "JPY"), "¥1,234,567");
    assert_eq!(show(1250, "BHD"), "BHD 1.250");
    assert_eq!(show(100_000_000, "CHF"), "CHF 1,000,000.00");
}

#[test]
fn wire_form_is_minor_units_and_code() {
    let money = Money::new(1250, eur());
    let json = serde_json::to_string(&money).unwrap();
    assert_eq!(json, r#"{"amount_minor":1250,"currency":"EUR"}"#);
    assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);
    assert!(serde_json::from_str::<Money>(r#"{"amount_minor":1,"currency":"XXX"}"#).is_err());
}

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::all().collect::<Vec<_>>())
}

proptest! {
    #[test]
    fn decimal_text_round_trips(minor in 1..i64::MAX, currency in currency()) {
        let money = Money::new(minor, currency);
        prop_assert_eq!(Money::parse(&money.decimal(), currency), Ok(money));
    }

    #[test]
    fn display_keeps_every_digit(minor in 1..i64::MAX, currency in currency()) {
        let shown = Money::new(minor, currency).to_string();
        let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
        prop_assert_eq!(digits.trim_start_matches('0'), minor.to_string());
    }
}
