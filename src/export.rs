//! Exports a statement as CSV, for `quid statement --csv` and the TUI's wallet view.
//! Amounts are plain decimals with the currency in its own column, so a spreadsheet sums them.

use crate::protocol::payments::StatementLine;
use std::io::Write;

pub fn statement_csv(lines: &[StatementLine], out: impl Write) -> Result<(), csv::Error> {
    let mut out = csv::Writer::from_writer(out);
    out.write_record([
        "transfer_id",
        "time_utc",
        "kind",
        "counterparty",
        "amount",
        "currency",
        "balance_after",
        "memo",
    ])?;
    for line in lines {
        let time = chrono::DateTime::from_timestamp_millis(line.at.0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let kind = line.kind.as_str();
        out.write_record([
            line.transfer_id.to_string(),
            time,
            kind.to_owned(),
            line.counterparty
                .as_ref()
                .map(|u| u.username.clone())
                .unwrap_or_default(),
            line.amount.decimal(),
            line.amount.currency.code().to_owned(),
            line.balance_after.decimal(),
            line.memo.clone(),
        ])?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};
    use crate::protocol::payments::{TransferId, TransferKind};
    use crate::protocol::{TimestampMs, User, UserId};

    #[test]
    fn amounts_are_exact_decimals_and_text_is_quoted() {
        let eur = Currency::from_code("EUR").unwrap();
        let line = StatementLine {
            transfer_id: TransferId(7),
            kind: TransferKind::Payment,
            at: TimestampMs(1_795_593_720_000),
            amount: Money::new(-1250, eur),
            balance_after: Money::new(8750, eur),
            counterparty: Some(User::new(UserId(2), "bob")),
            memo: "lunch, \"the usual\"".into(),
        };
        let mut out = Vec::new();
        statement_csv(&[line], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some(
                "7,2026-11-25T08:02:00Z,payment,bob,-12.50,EUR,87.50,\"lunch, \"\"the usual\"\"\""
            )
        );
    }
}
