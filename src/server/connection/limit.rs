//! The cap on connections from one address, so one host cannot take every connection slot.
//! IPv6 peers are counted by their /64, which one host usually holds whole.

use crate::server::throttle::network_of;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub struct PerAddress {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in its address's count; gives it back when dropped.
pub struct Slot {
    address: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerAddress {
    pub fn new(max: usize) -> PerAddress {
        PerAddress {
            max,
            open: Arc::default(),
        }
    }

    /// A slot for a connection from `ip`, or `None` when that address has `max` open.
    pub fn claim(&self, ip: IpAddr) -> Option<Slot> {
        let address = network_of(ip);
        let mut open = lock(&self.open);
        let count = open.entry(address).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            address,
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

fn lock(open: &Mutex<HashMap<IpAddr, usize>>) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
    // Each change is one counter step: the map is whole even after a panic.
    open.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_slots_back_as_connections_close() {
        let limit = PerAddress::new(2);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let first = limit.claim(ip).unwrap();
        let _second = limit.claim(ip).unwrap();
        assert!(limit.claim(ip).is_none());
        assert!(limit.claim(other).is_some());
        drop(first);
        assert!(limit.claim(ip).is_some());
    }
}
