//! Brute-force limits for logins and registrations: each username and each address has a budget
//! of free attempts, then a delay that doubles with every further failure, up to a ceiling. An
//! attempt is counted when it is admitted, before the slow hash, so attempts sent at once share
//! one budget; a right password gives the username's budget back. A refusal answers
//! `rate_limited` with the wait, and costs no hashing at all.
//!
//! The figures live in memory: a restart forgives everyone, which is acceptable because the
//! delays are minutes, not days. The table is bounded (see [`MAX_ENTRIES`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Most usernames and addresses tracked at once; stale ones go first when it is full.
pub const MAX_ENTRIES: usize = 100_000;

/// An entry with no attempt for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

/// How many failures are free, and how the delay after them grows.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub free_attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Policy {
    /// The wait before the next attempt once `attempts` have been made.
    fn delay(&self, attempts: u32) -> Duration {
        let Some(over) = attempts.checked_sub(self.free_attempts) else {
            return Duration::ZERO;
        };
        let doublings = over.min(20);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// Who or where an attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// Logins for one username, from anywhere.
    Username(String),
    /// Logins from one address (IPv6: its /64, which one host usually holds whole).
    LoginFrom(IpAddr),
    /// Registrations from one address; every one counts, since each costs a hash and an account.
    RegisterFrom(IpAddr),
}

impl Key {
    pub fn login_from(ip: IpAddr) -> Key {
        Key::LoginFrom(network_of(ip))
    }

    pub fn register_from(ip: IpAddr) -> Key {
        Key::RegisterFrom(network_of(ip))
    }
}

/// The address a limit counts: an IPv4 address, or an IPv6 address's /64.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

/// The budgets `quid serve` uses.
#[derive(Debug, Clone, Copy)]
pub struct Policies {
    pub username: Policy,
    pub login_address: Policy,
    pub register_address: Policy,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            username: Policy {
                free_attempts: 5,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(5 * 60),
            },
            // Wider: many people may share one address (an office, a carrier's NAT).
            login_address: Policy {
                free_attempts: 20,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(5 * 60),
            },
            register_address: Policy {
                free_attempts: 20,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(60),
            },
        }
    }
}

struct Entry {
    attempts: u32,
    next_allowed: Instant,
    last_seen: Instant,
}

pub struct Throttle {
    policies: Policies,
    entries: Mutex<HashMap<Key, Entry>>,
    refused: AtomicU64,
}

impl Throttle {
    pub fn new(policies: Policies) -> Throttle {
        Throttle {
            policies,
            entries: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        }
    }

    /// Counts an attempt against every key, or refuses it with the time left to wait when any
    /// key is still waiting (then nothing is counted).
    pub fn admit(&self, keys: &[Key], now: Instant) -> Result<(), Duration> {
        let mut entries = self.lock();
        let wait = keys
            .iter()
            .filter_map(|key| entries.get(key))
            .filter(|entry| now.duration_since(entry.last_seen) < FORGET_AFTER)
            .map(|entry| entry.next_allowed.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(wait);
        }
        make_room(&mut entries, keys.len(), now);
        for key in keys {
            let policy = self.policy(key);
            let entry = entries.entry(key.clone()).or_insert(Entry {
                attempts: 0,
                next_allowed: now,
                last_seen: now,
            });
            if now.duration_since(entry.last_seen) >= FORGET_AFTER {
                entry.attempts = 0;
            }
            entry.attempts = entry.attempts.saturating_add(1);
            entry.next_allowed = now + policy.delay(entry.attempts);
            entry.last_seen = now;
        }
        Ok(())
    }

    /// The attempt counted against `key` succeeded: its budget is whole again.
    pub fn forgive(&self, key: &Key) {
        self.lock().remove(key);
    }

    /// Attempts refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn policy(&self, key: &Key) -> Policy {
        match key {
            Key::Username(_) => self.policies.username,
            Key::LoginFrom(_) => self.policies.login_address,
            Key::RegisterFrom(_) => self.policies.register_address,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // Each change is a single insert or update: the map is whole even after a panic.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Keeps the table under [`MAX_ENTRIES`]: forgets stale entries, then, under a flood of fresh
/// keys, the ones seen longest ago.
fn make_room(entries: &mut HashMap<Key, Entry>, needed: usize, now: Instant) {
    if entries.len() + needed <= MAX_ENTRIES {
        return;
    }
    entries.retain(|_, entry| now.duration_since(entry.last_seen) < FORGET_AFTER);
    let excess = (entries.len() + needed).saturating_sub(MAX_ENTRIES);
    if excess > 0 {
        let mut by_age: Vec<(Instant, Key)> = entries
            .iter()
            .map(|(key, entry)| (entry.last_seen, key.clone()))
            .collect();
        by_age.sort_by_key(|(seen, _)| *seen);
        for (_, key) in by_age.into_iter().take(excess.max(MAX_ENTRIES / 10)) {
            entries.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies() -> Policies {
        let policy = Policy {
            free_attempts: 3,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
        };
        Policies {
            username: policy,
            login_address: policy,
            register_address: policy,
        }
    }

    #[test]
    fn free_attempts_then_doubling_delays_up_to_the_ceiling() {
        let throttle = Throttle::new(policies());
        let key = [Key::Username("alice".into())];
        let mut now = Instant::now();
        for _ in 0..3 {
            assert_eq!(throttle.admit(&key, now), Ok(()));
        }
        // The third attempt used the last free one; the fourth waits a second.
        let mut waits = Vec::new();
        for _ in 0..6 {
            let wait = throttle.admit(&key, now).unwrap_err();
            waits.push(wait.as_secs());
            now += wait;
            assert_eq!(throttle.admit(&key, now), Ok(()));
        }
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
        assert_eq!(throttle.refused(), 6);
    }

    #[test]
    fn a_refused_attempt_counts_nothing_and_success_restores_the_budget() {
        let throttle = Throttle::new(policies());
        let user = Key::Username("alice".into());
        let address = Key::login_from("10.1.2.3".parse().unwrap());
        let now = Instant::now();
        for _ in 0..4 {
            let _ = throttle.admit(&[user.clone(), address.clone()], now);
        }
        assert!(throttle.admit(std::slice::from_ref(&user), now).is_err());
        throttle.forgive(&user);
        assert_eq!(throttle.admit(std::slice::from_ref(&user), now), Ok(()));
        // The address still remembers.
        assert!(throttle.admit(&[address], now).is_err());
    }

    #[test]
    fn entries_are_forgotten_after_a_quiet_spell() {
        let throttle = Throttle::new(policies());
        let key = [Key::Username("bob".into())];
        let now = Instant::now();
        for _ in 0..3 {
            throttle.admit(&key, now).unwrap();
        }
        assert!(
            throttle
                .admit(&key, now + Duration::from_millis(500))
                .is_err()
        );
        assert_eq!(throttle.admit(&key, now + FORGET_AFTER), Ok(()));
    }

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        let a = Key::login_from("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Key::login_from("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = Key::login_from("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn the_table_stays_bounded_under_a_flood_of_addresses() {
        let throttle = Throttle::new(policies());
        let now = Instant::now();
        for n in 0..(MAX_ENTRIES as u32 + 500) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(n));
            throttle.admit(&[Key::register_from(ip)], now).unwrap();
        }
        assert!(throttle.lock().len() <= MAX_ENTRIES);
    }
}
