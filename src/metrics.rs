//! The server's counters, kept with atomics (no lock on a hot path) and rendered in the
//! Prometheus text format for `GET /metrics`. Each part of the server owns its own figures;
//! `render` gathers them.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A histogram with fixed buckets, cumulative as Prometheus wants. Values are whole numbers of
/// a unit (microseconds for latencies, requests for batch sizes); `per_reported_unit` of them
/// make one unit of what is reported (1,000,000 µs to the second).
pub struct Histogram {
    bounds: &'static [u64],
    per_reported_unit: f64,
    counts: Vec<AtomicU64>,
    sum: AtomicU64,
    count: AtomicU64,
}

/// Bucket bounds for latencies from sub-millisecond to a second, in microseconds.
pub const LATENCY_BOUNDS_US: &[u64] = &[
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

/// Bucket bounds for how many requests one writer batch holds.
pub const BATCH_SIZE_BOUNDS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256];

impl Histogram {
    /// Latencies, observed as durations and reported in seconds.
    pub fn latency() -> Histogram {
        Self::new(LATENCY_BOUNDS_US, 1e6)
    }

    pub fn new(bounds: &'static [u64], per_reported_unit: f64) -> Histogram {
        Histogram {
            bounds,
            per_reported_unit,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe_duration(&self, elapsed: std::time::Duration) {
        self.observe(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn observe(&self, value: u64) {
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            if value <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let le = *bound as f64 / self.per_reported_unit;
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{le}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum.load(Ordering::Relaxed) as f64 / self.per_reported_unit;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Counters keyed by a few label values, for figures such as requests by type and code.
#[derive(Default)]
pub struct LabelledCounter {
    counts: Mutex<BTreeMap<Vec<&'static str>, u64>>,
}

impl LabelledCounter {
    pub fn add(&self, labels: Vec<&'static str>) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry(labels).or_default() += 1;
    }

    pub fn render(&self, out: &mut String, name: &str, help: &str, label_names: &[&str]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (values, count) in counts.iter() {
            let labels: Vec<String> = label_names
                .iter()
                .zip(values)
                .map(|(name, value)| format!("{name}=\"{value}\""))
                .collect();
            let _ = writeln!(out, "{name}{{{}}} {count}", labels.join(","));
        }
    }
}

/// One line of a plain counter or gauge.
pub fn render_value(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let histogram = Histogram::new(&[1_000, 10_000], 1e6);
        histogram.observe_duration(Duration::from_micros(500));
        histogram.observe_duration(Duration::from_micros(5_000));
        histogram.observe_duration(Duration::from_secs(1));
        let mut out = String::new();
        histogram.render(&mut out, "x_seconds", "test");
        assert!(out.contains("x_seconds_bucket{le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("x_seconds_bucket{le=\"0.01\"} 2\n"), "{out}");
        assert!(out.contains("x_seconds_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_seconds_count 3\n"), "{out}");
    }

    #[test]
    fn labelled_counters_render_their_labels() {
        let counter = LabelledCounter::default();
        counter.add(vec!["send", "ok"]);
        counter.add(vec!["send", "ok"]);
        counter.add(vec!["pay", "wrong_pin"]);
        let mut out = String::new();
        counter.render(&mut out, "r_total", "test", &["type", "code"]);
        assert!(
            out.contains("r_total{type=\"send\",code=\"ok\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("r_total{type=\"pay\",code=\"wrong_pin\"} 1\n"),
            "{out}"
        );
    }
}
