//! Fresh ids for what the state makes (a message's client id, a payment's idempotency key),
//! handed to the state from outside: `update` reads no random source, and a test can say
//! which ids it will see.

use uuid::Uuid;

pub struct FreshIds(Box<dyn FnMut() -> Uuid + Send>);

impl FreshIds {
    /// Random (v4) ids: what the TUI uses against a server, where ids must never repeat.
    pub fn random() -> FreshIds {
        FreshIds(Box::new(Uuid::new_v4))
    }

    /// 1, 2, 3, ... as ids: for tests, which only need them to differ and be predictable.
    pub fn counting() -> FreshIds {
        let mut next = 0_u128;
        FreshIds(Box::new(move || {
            next += 1;
            Uuid::from_u128(next)
        }))
    }

    pub fn fresh(&mut self) -> Uuid {
        (self.0)()
    }
}
