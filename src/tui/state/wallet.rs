//! The wallet view's state: the statement, a filter, and spending per day or week.
//! Everything here is computed from the lines the server sent; nothing is stored.

use crate::money::{Currency, Money};
use crate::protocol::TimestampMs;
use crate::protocol::payments::{StatementLine, TransferKind};
use crate::untrusted::inert_line;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate};

/// Fewest days in the per-day chart and weeks in the per-week chart; a wider screen shows more.
pub const MIN_DAYS_SHOWN: usize = 7;
pub const MIN_WEEKS_SHOWN: usize = 8;
/// Most of either: a month of days, half a year of weeks.
pub const MAX_DAYS_SHOWN: usize = 31;
pub const MAX_WEEKS_SHOWN: usize = 26;

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
                line.memo = inert_line(crate::protocol::payments::readable_memo(&line.memo));
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
                        .map_or(line.kind.unnamed_side(), |u| u.username.as_str());
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

    /// How many days or weeks fit in `columns` with bars wide enough for their labels.
    pub fn periods_for(&self, columns: u16) -> usize {
        let (min, max) = match self.period {
            Period::Days => (MIN_DAYS_SHOWN, MAX_DAYS_SHOWN),
            Period::Weeks => (MIN_WEEKS_SHOWN, MAX_WEEKS_SHOWN),
        };
        // "€1,234.50" and "Wed 25" fit in 10 columns, with one between bars.
        (usize::from(columns) / 11).clamp(min, max)
    }

    /// Money spent per day (today last) or per week (Monday starts) in `currency`, the last
    /// `count` of them, as (label, amount). Spent is money out to people and merchants less
    /// what merchants refunded of it: a refund is taken off the invoice it gives back (the
    /// latest earlier one paid to that merchant), in that invoice's period. Money in, mints
    /// and refunds you gave as a merchant are not spending.
    pub fn spending(
        &self,
        today: TimestampMs,
        utc_offset_secs: i32,
        currency: Currency,
        count: usize,
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
        let (buckets, span) = self.buckets(today, count);
        let spent = net_spending(&self.lines, currency);
        buckets
            .into_iter()
            .map(|(start, label)| {
                let total: i64 = spent
                    .iter()
                    .filter(|(at, _)| day_of(*at).is_some_and(|d| d >= start && d < start + span))
                    .map(|(_, minor)| minor)
                    .sum();
                (label, Money::new(total, currency))
            })
            .collect()
    }

    /// The first day and the label of each of the last `count` periods, oldest first.
    fn buckets(&self, today: NaiveDate, count: usize) -> (Vec<(NaiveDate, String)>, Duration) {
        let back = (0..count as i64).rev();
        match self.period {
            Period::Days => {
                let days = back
                    .map(|n| {
                        let day = today - Duration::days(n);
                        (day, day.format("%a %-d").to_string())
                    })
                    .collect();
                (days, Duration::days(1))
            }
            Period::Weeks => {
                let this_monday =
                    today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                let weeks = back
                    .map(|n| {
                        let monday = this_monday - Duration::weeks(n);
                        (monday, monday.format("%-d %b").to_string())
                    })
                    .collect();
                (weeks, Duration::weeks(1))
            }
        }
    }
}

/// Each payment out in `currency` as (when, minor units spent), refunds received taken off
/// the invoice payments they give back. `lines` are newest first, as the statement sends them.
fn net_spending(lines: &[StatementLine], currency: Currency) -> Vec<(TimestampMs, i64)> {
    let mut spent: Vec<(TimestampMs, i64, Option<&str>, TransferKind)> = Vec::new();
    for line in lines.iter().rev().filter(|l| l.amount.currency == currency) {
        let who = line.counterparty.as_ref().map(|u| u.username.as_str());
        let minor = line.amount.amount_minor;
        match line.kind {
            TransferKind::Refund if minor > 0 => {
                let mut left = minor;
                for (_, part, merchant, kind) in spent.iter_mut().rev() {
                    if *kind == TransferKind::Invoice && *merchant == who && left > 0 {
                        let taken = left.min(*part);
                        *part -= taken;
                        left -= taken;
                    }
                }
            }
            // Money in or out through a partner moves it, it does not spend it.
            TransferKind::Refund
            | TransferKind::Mint
            | TransferKind::Topup
            | TransferKind::Payout
            | TransferKind::PayoutReturn => {}
            kind if minor < 0 => spent.push((line.at, -minor, who, kind)),
            _ => {}
        }
    }
    spent
        .into_iter()
        .map(|(at, minor, ..)| (at, minor))
        .collect()
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
        let days = wallet.spending(TimestampMs(WEDNESDAY), 0, eur, 7);
        assert_eq!(days.len(), 7);
        assert_eq!(days[6], ("Wed 25".to_owned(), Money::new(1_500, eur)));
        assert_eq!(days[5].1.amount_minor, 0, "money in is not spending");
        assert_eq!(days[4], ("Mon 23".to_owned(), Money::new(300, eur)));
        wallet.period = Period::Weeks;
        let weeks = wallet.spending(TimestampMs(WEDNESDAY), 0, eur, 8);
        assert_eq!(weeks.len(), 8);
        assert_eq!(weeks[7], ("23 Nov".to_owned(), Money::new(1_800, eur)));
        assert_eq!(weeks[4].1.amount_minor, 9_900);
    }

    #[test]
    fn a_refund_is_taken_off_the_invoice_it_gives_back() {
        let kind = |mut line: StatementLine, kind| {
            line.kind = kind;
            line
        };
        let mut wallet = Wallet::loading();
        wallet.load(vec![
            kind(line(4, WEDNESDAY, 300, "shop", ""), TransferKind::Refund),
            line(3, WEDNESDAY - DAY, -200, "bob", "tea"),
            kind(
                line(2, WEDNESDAY - 2 * DAY, -500, "shop", "2 × tea"),
                TransferKind::Invoice,
            ),
            kind(
                line(1, WEDNESDAY - 3 * DAY, -700, "other_shop", ""),
                TransferKind::Invoice,
            ),
        ]);
        let eur = wallet.chart_currency().unwrap();
        let days: Vec<i64> = wallet
            .spending(TimestampMs(WEDNESDAY), 0, eur, 4)
            .iter()
            .map(|(_, m)| m.amount_minor)
            .collect();
        assert_eq!(
            days,
            [700, 200, 200, 0],
            "€3 of the €5 invoice came back: €2 spent that day, nothing on the refund's day"
        );
    }

    #[test]
    fn a_wider_chart_shows_more_days_up_to_a_month() {
        let mut wallet = wallet();
        assert_eq!(wallet.periods_for(40), 7);
        assert_eq!(wallet.periods_for(200), 18);
        assert_eq!(wallet.periods_for(1_000), 31);
        wallet.period = Period::Weeks;
        assert_eq!(wallet.periods_for(80), 8);
        assert_eq!(wallet.periods_for(1_000), 26);
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
