//! The store's clock. A write request reads the time once (`WriteCtx`), so that every
//! timestamp it writes and every expiry it checks agree, whichever statement comes first; the
//! expiry the store works out as it reads a row (a request or an invoice shown expired before
//! the sweeper marks it) must agree with them too, but that read sits under every message's
//! card. So the request's reading is held here, for its thread, while the request runs; a read
//! outside a write takes the time of the read.

use crate::protocol::TimestampMs;
use std::cell::Cell;

thread_local! {
    static HELD: Cell<Option<TimestampMs>> = const { Cell::new(None) };
}

/// The time of the write request running on this thread, else the time now.
pub(crate) fn now() -> TimestampMs {
    HELD.get().unwrap_or_else(TimestampMs::now)
}

/// Holds `now` as this thread's time until dropped (then what was held before is back).
pub(super) fn hold(now: TimestampMs) -> Held {
    Held(HELD.replace(Some(now)))
}

pub(super) struct Held(Option<TimestampMs>);

impl Drop for Held {
    fn drop(&mut self) {
        HELD.set(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_time_is_the_threads_until_dropped_and_nests() {
        let before = TimestampMs::now();
        {
            let _outer = hold(TimestampMs(5));
            assert_eq!(now(), TimestampMs(5));
            {
                let _inner = hold(TimestampMs(7));
                assert_eq!(now(), TimestampMs(7));
            }
            assert_eq!(now(), TimestampMs(5), "the outer time is back");
            let elsewhere = std::thread::spawn(now).join().unwrap();
            assert!(elsewhere >= before, "another thread reads its own clock");
        }
        assert!(now() >= before, "nothing held: the time now");
    }
}
