//! Reconnect delays: capped exponential with jitter, so a server restart is not met by every
//! client at the same instant.

use rand::RngExt;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// No delay is longer than this.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1 for the first): the capped exponential
    /// value, of which a random half is kept ("equal jitter"): never less than half of it.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let capped = self.base.saturating_mul(1 << exponent).min(self.max);
        let half = capped / 2;
        let jitter_ms = rand::rng().random_range(0..=half.as_millis().min(u64::MAX as u128) as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// The delay after a server said when to come back (`retry_after`): that, and up to a
    /// quarter more at random, so that its clients do not all come back at one instant.
    pub fn soon(retry_after: Duration) -> Duration {
        let quarter = u64::try_from(retry_after.as_millis() / 4).unwrap_or(u64::MAX);
        retry_after + Duration::from_millis(rand::rng().random_range(0..=quarter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_stay_under_the_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for _ in 0..100 {
            let first = backoff.delay(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = backoff.delay(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = backoff.delay(40);
            assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2));
        }
    }

    #[test]
    fn a_server_that_says_when_is_tried_then_give_or_take_a_quarter() {
        let said = Duration::from_secs(2);
        let delays: Vec<Duration> = (0..200).map(|_| Backoff::soon(said)).collect();
        assert!(
            delays.iter().all(|d| *d >= said && *d <= said * 5 / 4),
            "{delays:?}"
        );
        assert!(
            delays.iter().any(|d| *d != said),
            "spread, not all at one instant"
        );
    }
}
