//! Random sequences of mints, payments, requests, invoices and refunds (with reused
//! idempotency keys) keep
//! every invariant `check-ledger` verifies, and balances match a plain model of what
//! succeeded.

use crate::common::{TestDb, eur};
use proptest::prelude::*;
use quid::ledger::limits::Limits;
use quid::ledger::payments::{PayOrder, mint, pay};
use quid::ledger::requests::{RequestOrder, cancel, decline, pay_request, request_money};
use quid::protocol::payments::{IdempotencyKey, PaymentRequestId};
use quid::protocol::{ApiError, User};
use quid::store::writer::WriteCtx;
use quid::store::{Store, accounts};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

const PEOPLE: [&str; 3] = ["alice", "bob", "carol"];
/// The shop's place in the model.
const SHOP: usize = PEOPLE.len();

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
    /// The shop bills a person.
    Invoice {
        buyer: usize,
        minor: i64,
        key: u8,
    },
    /// `who` is a stranger trying to pay; `None` is the invoice's own buyer.
    PayInvoice {
        who: Option<usize>,
        invoice: usize,
        key: u8,
    },
    Refund {
        invoice: usize,
        minor: Option<i64>,
        key: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..PEOPLE.len();
    let minor = 1..5_000_i64;
    let key = 0..6_u8; // Few keys, so retries and conflicting reuses happen often.
    prop_oneof![
        3 => (who.clone(), minor.clone()).prop_map(|(who, minor)| Op::Mint { who, minor }),
        1 => (who.clone(), who.clone(), minor.clone(), key.clone()).prop_map(
            |(from, to, minor, key)| Op::Pay {
                from,
                to,
                minor,
                key
            }
        ),
        1 => (who.clone(), who.clone(), minor, key.clone()).prop_map(
            |(requester, payer, minor, key)| Op::Ask {
                requester,
                payer,
                minor,
                key
            }
        ),
        1 => (who.clone(), 0..8_usize, key).prop_map(|(who, request, key)| Op::PayRequest {
            who,
            request,
            key
        }),
        1 => (who.clone(), 0..8_usize).prop_map(|(who, request)| Op::Decline { who, request }),
        1 => (who.clone(), 0..8_usize).prop_map(|(who, request)| Op::Cancel { who, request }),
        2 => (who.clone(), 1..3_000_i64, 0..6_u8).prop_map(|(buyer, minor, key)| Op::Invoice { buyer, minor, key }),
        // Mostly the invoice's own buyer pays; sometimes a stranger tries.
        3 => (prop::option::weighted(0.2, who), 0..4_usize, 0..6_u8)
            .prop_map(|(who, invoice, key)| Op::PayInvoice { who, invoice, key }),
        2 => (0..4_usize, prop::option::of(1..1_500_i64), 0..6_u8)
            .prop_map(|(invoice, minor, key)| Op::Refund { invoice, minor, key }),
    ]
}

struct Run {
    store: Arc<Store>,
    users: Vec<User>,
    /// The merchant bot; its balance is `model[SHOP]`.
    shop: User,
    requests: Vec<PaymentRequestId>,
    /// Invoices made, with their buyer.
    invoices: Vec<(quid::protocol::payments::InvoiceId, usize)>,
    /// What balances should be, from the successes alone.
    model: HashMap<usize, i64>,
}

impl Run {
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut WriteCtx) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.store.write_once(f)
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
                let to_name = self.users[*to].username.clone();
                let order = PayOrder {
                    to: &to_name,
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
                let payer_name = self.users[*payer].username.clone();
                let order = RequestOrder {
                    payer: &payer_name,
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
                    let to = self
                        .users
                        .iter()
                        .position(|u| u.username == paid.transfer.to.username)
                        .unwrap();
                    *self.model.entry(*who).or_default() -= paid.transfer.amount.amount_minor;
                    *self.model.entry(to).or_default() += paid.transfer.amount.amount_minor;
                }
            }
            Op::Invoice {
                buyer,
                minor,
                key: k,
            } => {
                let (shop, key) = (self.shop.clone(), key(k, 30));
                let buyer_name = self.users[*buyer].username.clone();
                let items = [quid::protocol::payments::LineItem {
                    name: "thing".into(),
                    quantity: 1,
                    unit_price_minor: *minor,
                }];
                let made = self.write(|ctx| {
                    let conversation =
                        quid::store::conversations::open_direct(ctx, &shop, &buyer_name)?;
                    let order = quid::ledger::invoices::InvoiceOrder {
                        conversation_id: conversation.id,
                        items: &items,
                        currency: eur(1).currency,
                        total_minor: *minor,
                        payload: "",
                        expires_in_secs: None,
                        key: &key,
                    };
                    quid::ledger::invoices::send(ctx, &shop, &order)
                });
                if let Ok(made) = made
                    && !made.duplicate
                {
                    self.invoices.push((made.invoice.id, *buyer));
                }
            }
            Op::PayInvoice {
                who,
                invoice,
                key: k,
            } => {
                let Some(&(id, buyer)) = self.invoices.get(*invoice) else {
                    return;
                };
                let who = &who.unwrap_or(buyer);
                let (me, key) = (self.users[*who].clone(), key(k, *who + 40));
                if let Ok(paid) = self.write(|ctx| {
                    quid::ledger::invoices::pay(ctx, &me, id, &key, &Limits::default())
                }) && !paid.duplicate
                {
                    *self.model.entry(*who).or_default() -= paid.transfer.amount.amount_minor;
                    *self.model.entry(SHOP).or_default() += paid.transfer.amount.amount_minor;
                }
            }
            Op::Refund {
                invoice,
                minor,
                key: k,
            } => {
                let Some(&(id, _)) = self.invoices.get(*invoice) else {
                    return;
                };
                let (shop, key) = (self.shop.clone(), key(k, 50));
                let amount = minor.map(eur);
                if let Ok(refunded) =
                    self.write(|ctx| quid::ledger::invoices::refund(ctx, &shop, id, amount, &key))
                    && !refunded.duplicate
                {
                    let buyer = self
                        .users
                        .iter()
                        .position(|u| u.username == refunded.invoice.buyer.username)
                        .unwrap();
                    *self.model.entry(SHOP).or_default() -= refunded.transfer.amount.amount_minor;
                    *self.model.entry(buyer).or_default() += refunded.transfer.amount.amount_minor;
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

/// Runs `ops` among new people (names ending in a number of their own, so that cases can
/// share a database): every invariant holds afterwards, and each account holds what the model
/// says.
fn check(ops: &[Op], store: &Arc<Store>) -> Result<(), TestCaseError> {
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let case = CASE.fetch_add(1, Ordering::Relaxed);
    let create = |name: &str, bot: bool| {
        let name = format!("{name}{case}");
        store
            .write_once(|ctx| match bot {
                true => accounts::create_bot(ctx, &name, Some("The Shop")),
                false => accounts::create_user(ctx, &name, "not a real hash"),
            })
            .unwrap()
    };
    let users = PEOPLE.iter().map(|name| create(name, false)).collect();
    let shop = create("shop", true);
    let mut run = Run {
        store: Arc::clone(store),
        users,
        shop,
        requests: Vec::new(),
        invoices: Vec::new(),
        model: HashMap::new(),
    };
    for op in ops {
        run.apply(op);
    }
    let findings = run.store.read_blocking(|db| db.audit_ledger()).unwrap();
    prop_assert!(
        findings.iter().all(|f| f.violations.is_empty()),
        "{}",
        quid::ledger::check::report(&findings)
    );
    for (index, user) in run.users.iter().chain([&run.shop]).enumerate() {
        let held: i64 = run
            .store
            .read_blocking(|db| db.balances(user.id))
            .unwrap()
            .iter()
            .map(|m| m.amount_minor)
            .sum();
        prop_assert_eq!(
            held,
            run.model.get(&index).copied().unwrap_or(0),
            "{}",
            user.username
        );
    }
    Ok(())
}

/// One database on PostgreSQL for every case (making one costs more than a case); `None` when
/// PostgreSQL is not installed.
fn shared_postgres() -> Option<&'static (TestDb, Arc<Store>)> {
    static SHARED: OnceLock<Option<(TestDb, Arc<Store>)>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let db = TestDb::postgres()?;
            let store = Store::open(&db.location).unwrap();
            Some((db, store))
        })
        .as_ref()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_every_invariant_on_sqlite(ops in prop::collection::vec(op(), 1..40)) {
        // In memory: each case a database of its own, without a file (the rules are what
        // is tested; the file's durability is the server tests').
        check(&ops, &Store::open_in_memory().unwrap())?;
    }

    #[test]
    fn random_operations_keep_every_invariant_on_postgres(ops in prop::collection::vec(op(), 1..40)) {
        let Some((_, store)) = shared_postgres() else { return Ok(()) };
        check(&ops, store)?;
    }
}
