//! The wallet view's state: the statement, a filter, and spending per day or week.
//! Everything here is computed from the lines the server sent; nothing is stored.

use crate::money::{Currency, Money};
use crate::protocol::TimestampMs;
use crate::protocol::payments::{StatementLine, TransferKind};
use crate::untrusted::inert_line;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate};

/// Days in the per-day chart, weeks in the per-week chart.
pub const DAYS_SHOWN: i64 = 7;
pub const WEEKS_SHOWN: i64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days,
    Weeks,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wallet {
    /// Newest first; counterparty names and memos are inert.
    pub lines: Vec<StatementLine>,
    pub loading: bool,
    pub filter: String,
    pub period: Period,
    /// Lines scrolled past at the top of the list.
    pub scroll: usize,
    /// What the last export did.
    pub note: Option<String>,
}

impl Wallet {
    pub fn loading() -> Wallet {
        Wallet {
            lines: Vec::new(),
            loading: true,
            filter: String::new(),
            period: Period::Days,
            scroll: 0,
            note: None,
        }
    }

    pub fn load(&mut self, lines: Vec<StatementLine>) {
        self.lines = lines
            .into_iter()
            .map(|mut line| {
                line.memo = inert_line(&line.memo);
                if let Some(user) = line.counterparty.as_mut() {
                    user.username = inert_line(&user.username);
                }
                line
            })
            .collect();
        self.loading = false;
    }

    /// Lines whose counterparty, memo or kind contains the filter (any case).
    pub fn visible(&self) -> Vec<&StatementLine> {
        let filter = self.filter.to_lowercase();
        self.lines
            .iter()
            .filter(|line| {
                filter.is_empty() || {
                    let who = line
                        .counterparty
                        .as_ref()
                        .map_or("funds added", |u| u.username.as_str());
                    let kind = match line.kind {
                        TransferKind::Mint => "mint funds",
                        other => other.as_str(),
                    };
                    [who, line.memo.as_str(), kind]
                        .iter()
                        .any(|field| field.to_lowercase().contains(&filter))
                }
            })
            .collect()
    }

    /// The currency the chart shows: the one with the most lines.
    pub fn chart_currency(&self) -> Option<Currency> {
        let mut counts: Vec<(Currency, usize)> = Vec::new();
        for line in &self.lines {
            match counts.iter_mut().find(|(c, _)| *c == line.amount.currency) {
                Some((_, n)) => *n += 1,
                None => counts.push((line.amount.currency, 1)),
            }
        }
        counts.into_iter().max_by_key(|(_, n)| *n).map(|(c, _)| c)
    }

    /// Money paid out per day (the last 7, today last) or per week (the last 8, Monday
    /// starts), in `currency`, as (label, amount). Incoming money and mints do not count.
    pub fn spending(
        &self,
        today: TimestampMs,
        utc_offset_secs: i32,
        currency: Currency,
    ) -> Vec<(String, Money)> {
        let Some(offset) = FixedOffset::east_opt(utc_offset_secs) else {
            return Vec::new();
        };
        let day_of = |at: TimestampMs| {
            DateTime::from_timestamp_millis(at.0).map(|t| t.with_timezone(&offset).date_naive())
        };
        let Some(today) = day_of(today) else {
            return Vec::new();
        };
        let buckets: Vec<(NaiveDate, String)> = match self.period {
            Period::Days => (0..DAYS_SHOWN)
                .rev()
                .map(|back| {
                    let day = today - Duration::days(back);
                    (day, day.format("%a %-d").to_string())
                })
                .collect(),
            Period::Weeks => {
                let this_monday =
                    today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                (0..WEEKS_SHOWN)
                    .rev()
                    .map(|back| {
                        let monday = this_monday - Duration::weeks(back);
                        (monday, monday.format("%-d %b").to_string())
                    })
                    .collect()
            }
        };
        let span = match self.period {
            Period::Days => Duration::days(1),
            Period::Weeks => Duration::weeks(1),
        };
        buckets
            .into_iter()
            .map(|(start, label)| {
                let spent: i64 = self
                    .lines
                    .iter()
                    .filter(|l| l.amount.currency == currency && l.amount.amount_minor < 0)
                    .filter(|l| day_of(l.at).is_some_and(|d| d >= start && d < start + span))
                    .map(|l| -l.amount.amount_minor)
                    .sum();
                (label, Money::new(spent, currency))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::payments::TransferId;
    use crate::protocol::{User, UserId};

    const DAY: i64 = 86_400_000;
    const WEDNESDAY: i64 = 1_795_593_720_000; // 2026-11-25 08:02 UTC

    fn line(id: i64, at: i64, minor: i64, who: &str, memo: &str) -> StatementLine {
        let eur = Currency::from_code("EUR").unwrap();
        StatementLine {
            transfer_id: TransferId(id),
            kind: TransferKind::Payment,
            at: TimestampMs(at),
            amount: Money::new(minor, eur),
            balance_after: Money::new(0, eur),
            counterparty: Some(User::new(UserId(2), who)),
            memo: memo.into(),
        }
    }

    fn wallet() -> Wallet {
        let mut wallet = Wallet::loading();
        wallet.load(vec![
            line(5, WEDNESDAY, -1_050, "bob", "lunch"),
            line(4, WEDNESDAY - 3_600_000, -450, "bob", "coffee"),
            line(3, WEDNESDAY - DAY, 2_000, "carol", "tickets"),
            line(2, WEDNESDAY - 2 * DAY, -300, "carol", "bus"),
            line(1, WEDNESDAY - 20 * DAY, -9_900, "dave", "\u{1b}[31mrent"),
        ]);
        wallet
    }

    #[test]
    fn spending_counts_money_out_per_day_and_per_week() {
        let mut wallet = wallet();
        let eur = wallet.chart_currency().unwrap();
        let days = wallet.spending(TimestampMs(WEDNESDAY), 0, eur);
        assert_eq!(days.len(), 7);
        assert_eq!(days[6], ("Wed 25".to_owned(), Money::new(1_500, eur)));
        assert_eq!(days[5].1.amount_minor, 0, "money in is not spending");
        assert_eq!(days[4], ("Mon 23".to_owned(), Money::new(300, eur)));
        wallet.period = Period::Weeks;
        let weeks = wallet.spending(TimestampMs(WEDNESDAY), 0, eur);
        assert_eq!(weeks.len(), 8);
        assert_eq!(weeks[7], ("23 Nov".to_owned(), Money::new(1_800, eur)));
        assert_eq!(weeks[4].1.amount_minor, 9_900);
    }

    #[test]
    fn the_filter_matches_people_memos_and_kinds_and_text_is_inert() {
        let mut wallet = wallet();
        wallet.filter = "BOB".into();
        assert_eq!(wallet.visible().len(), 2);
        wallet.filter = "tick".into();
        assert_eq!(wallet.visible().len(), 1);
        assert!(!wallet.lines[4].memo.contains('\u{1b}'));
    }
}
