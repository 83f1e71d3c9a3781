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
    assert_eq!(Money::parse("0.01", eur()).unwrap().amount_minor, 1);
    assert_eq!(Money::parse("007", eur()).unwrap().amount_minor, 700);
    let jpy = Currency::from_code("JPY").unwrap();
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
    for bad in [
        "", "abc", "1.2.3", "12.", "1e5", "1,000", " . ", " 5", "5 ", "+5", ".5", "١٢",
    ] {
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
}

/// One grammar for every amount typed anywhere (CLI, TUI, server flags): each way out of it is
/// refused with the rule it broke.
#[test]
fn each_refusal_names_the_rule() {
    let reason = |text: &str| Money::parse(text, eur()).unwrap_err().to_string();
    assert_eq!(
        reason(" 5"),
        "\" 5\" is not an amount: no spaces inside or around an amount; write it like 12.50"
    );
    assert!(reason(".5").contains("a digit before the point, like 0.50"));
    assert!(reason("5.").contains("digits after the point, like 5.00, or no point"));
    assert!(reason("1,000").contains("no thousands separators"));
    assert!(reason("+5").contains("without a sign"));
    assert!(reason("1.2.3").contains("more than one '.'"));
    assert!(reason("-5").contains("cannot be negative"));
    assert_eq!(
        reason("12.500"),
        "\"12.500\": EUR has 2 decimal places, not 3",
        "no more decimals than the currency has, zeros included"
    );

    let with = |text: &str| Money::parse_with_currency(text, None).map_err(|e| e.to_string());
    assert_eq!(with("5 EUR").unwrap().amount_minor, 500);
    assert_eq!(
        with("5 eur").unwrap_err(),
        "currency \"eur\" must be written \"EUR\": three capitals, no spaces"
    );
    assert!(
        with("5  EUR")
            .unwrap_err()
            .contains("\" EUR\" must be written \"EUR\"")
    );
    assert!(
        with("EUR 5")
            .unwrap_err()
            .contains("\"EUR\" is not an amount")
    );
    assert!(
        with("5 XYZ")
            .unwrap_err()
            .contains("unknown currency \"XYZ\"")
    );
    assert!(
        with("5")
            .unwrap_err()
            .contains("needs a currency, like \"5 EUR\"")
    );
    assert_eq!(
        Money::parse_with_currency("5", Some(eur()))
            .unwrap()
            .amount_minor,
        500
    );
}

#[test]
fn shares_sum_exactly_and_differ_by_at_most_one() {
    let minor = |total: i64, people| {
        Money::new(total, eur())
            .shares(people)
            .map(|parts| parts.iter().map(|p| p.amount_minor).collect::<Vec<_>>())
    };
    assert_eq!(minor(1000, 3), Some(vec![334, 333, 333]));
    assert_eq!(minor(10, 4), Some(vec![3, 3, 2, 2]));
    assert_eq!(minor(2, 3), None);
    assert_eq!(minor(5, 0), None);
    for total in 1..200 {
        for people in 1..12 {
            if let Some(parts) = minor(total, people) {
                assert_eq!(parts.iter().sum::<i64>(), total);
                assert!(parts.iter().max().unwrap() - parts.iter().min().unwrap() <= 1);
            }
        }
    }
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
