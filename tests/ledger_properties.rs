//! Random sequences of mints, payments and requests (with reused idempotency keys) keep
//! every invariant `check-ledger` verifies, and balances match a plain model of what
//! succeeded.

mod common;

use common::eur;
use proptest::prelude::*;
use quid::ledger::limits::Limits;
use quid::ledger::payments::{PayOrder, mint, pay};
use quid::ledger::requests::{RequestOrder, cancel, decline, pay_request, request_money};
use quid::protocol::payments::{IdempotencyKey, PaymentRequestId};
use quid::protocol::{ApiError, User};
use quid::store::writer::{WriteCtx, write_once};
use quid::store::{Store, accounts};
use std::collections::HashMap;

const PEOPLE: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Debug, Clone)]
enum Op {
    Mint {
        who: usize,
        minor: i64,
    },
    Pay {
        from: usize,
        to: usize,
        minor: i64,
        key: u8,
    },
    Ask {
        requester: usize,
        payer: usize,
        minor: i64,
        key: u8,
    },
    PayRequest {
        who: usize,
        request: usize,
        key: u8,
    },
    Decline {
        who: usize,
        request: usize,
    },
    Cancel {
        who: usize,
        request: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..PEOPLE.len();
    let minor = 1..5_000_i64;
    let key = 0..6_u8; // Few keys, so retries and conflicting reuses happen often.
    prop_oneof![
        (who.clone(), minor.clone()).prop_map(|(who, minor)| Op::Mint { who, minor }),
        (who.clone(), who.clone(), minor.clone(), key.clone()).prop_map(
            |(from, to, minor, key)| Op::Pay {
                from,
                to,
                minor,
                key
            }
        ),
        (who.clone(), who.clone(), minor, key.clone()).prop_map(
            |(requester, payer, minor, key)| Op::Ask {
                requester,
                payer,
                minor,
                key
            }
        ),
        (who.clone(), 0..8_usize, key).prop_map(|(who, request, key)| Op::PayRequest {
            who,
            request,
            key
        }),
        (who.clone(), 0..8_usize).prop_map(|(who, request)| Op::Decline { who, request }),
        (who, 0..8_usize).prop_map(|(who, request)| Op::Cancel { who, request }),
    ]
}

struct Run {
    conn: rusqlite::Connection,
    users: Vec<User>,
    requests: Vec<PaymentRequestId>,
    /// What balances should be, from the successes alone.
    model: HashMap<usize, i64>,
}

impl Run {
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut WriteCtx) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        write_once(&mut self.conn, f)
    }

    fn apply(&mut self, op: &Op) {
        let key = |k: &u8, who: usize| IdempotencyKey(format!("key-{who}-{k}"));
        match op {
            Op::Mint { who, minor } => {
                let user = self.users[*who].clone();
                self.write(|ctx| mint(ctx, &user, eur(*minor), &IdempotencyKey::random()))
                    .unwrap();
                *self.model.entry(*who).or_default() += minor;
            }
            Op::Pay {
                from,
                to,
                minor,
                key: k,
            } => {
                let (me, key) = (self.users[*from].clone(), key(k, *from));
                let order = PayOrder {
                    to: PEOPLE[*to],
                    amount: eur(*minor),
                    memo: "",
                    conversation_id: None,
                    key: &key,
                };
                if let Ok(paid) = self.write(|ctx| pay(ctx, &me, &order, &Limits::default()))
                    && !paid.duplicate
                {
                    *self.model.entry(*from).or_default() -= minor;
                    *self.model.entry(*to).or_default() += minor;
                }
            }
            Op::Ask {
                requester,
                payer,
                minor,
                key: k,
            } => {
                let (me, key) = (self.users[*requester].clone(), key(k, *requester + 10));
                let order = RequestOrder {
                    payer: PEOPLE[*payer],
                    amount: eur(*minor),
                    memo: "",
                    conversation_id: None,
                    expires_in_secs: None,
                    key: &key,
                };
                if let Ok(made) = self.write(|ctx| request_money(ctx, &me, &order))
                    && !made.duplicate
                {
                    self.requests.push(made.request.id);
                }
            }
            Op::PayRequest {
                who,
                request,
                key: k,
            } => {
                let Some(&id) = self.requests.get(*request) else {
                    return;
                };
                let (me, key) = (self.users[*who].clone(), key(k, *who + 20));
                if let Ok(paid) =
                    self.write(|ctx| pay_request(ctx, &me, id, &key, &Limits::default()))
                    && !paid.duplicate
                {
                    let to = PEOPLE
                        .iter()
                        .position(|p| *p == paid.transfer.to.username)
                        .unwrap();
                    *self.model.entry(*who).or_default() -= paid.transfer.amount.amount_minor;
                    *self.model.entry(to).or_default() += paid.transfer.amount.amount_minor;
                }
            }
            Op::Decline { who, request } | Op::Cancel { who, request } => {
                let Some(&id) = self.requests.get(*request) else {
                    return;
                };
                let me = self.users[*who].clone();
                let declining = matches!(op, Op::Decline { .. });
                let _ = self.write(|ctx| {
                    if declining {
                        decline(ctx, &me, id)
                    } else {
                        cancel(ctx, &me, id)
                    }
                });
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_every_invariant(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("ledger.db")).unwrap();
        let mut conn = store.connect().unwrap();
        let users = PEOPLE
            .iter()
            .map(|name| write_once(&mut conn, |ctx| accounts::create_user(ctx, name, "not a real hash")).unwrap())
            .collect();
        let mut run = Run { conn, users, requests: Vec::new(), model: HashMap::new() };
        for op in &ops {
            run.apply(op);
        }
        let findings = quid::ledger::check::check(&run.conn).unwrap();
        prop_assert!(
            findings.iter().all(|f| f.violations.is_empty()),
            "{}", quid::ledger::check::report(&findings)
        );
        for (index, user) in run.users.iter().enumerate() {
            let held: i64 = accounts_balance(&run.conn, user);
            prop_assert_eq!(held, run.model.get(&index).copied().unwrap_or(0), "{}", user.username);
        }
    }
}

fn accounts_balance(conn: &rusqlite::Connection, user: &User) -> i64 {
    quid::ledger::accounts::balances(conn, user.id)
        .unwrap()
        .iter()
        .map(|m| m.amount_minor)
        .sum()
}
