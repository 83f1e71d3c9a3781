//! The store's seam holds its contracts on every backend: each check here runs the same code
//! against SQLite and against PostgreSQL (a throwaway cluster).

use crate::common::TestDb;
use quid::money::{Currency, Money};
use quid::protocol::ApiError;
use quid::protocol::payments::{IdempotencyKey, TransferId, TransferKind};
use quid::protocol::{TimestampMs, UserId};
use quid::store::accounts::PinState;
use quid::store::location::Location;
use quid::store::wallets::{AccountId, AccountKind, Posted, Posting};
use quid::store::{Backend, Store};

const ALICE: UserId = UserId(1);
const BOB: UserId = UserId(2);

/// Every check, in order, on one fresh database.
fn every_contract(db: &dyn Backend) {
    db.ping().unwrap();
    users_keep_their_contract(db);
    wallets_keep_their_contract(db);
    the_audit_finds_what_is_broken(db);
}

/// What `Users` promises. Registers alice and bob, ids 1 and 2, for the checks after it.
fn users_keep_their_contract(db: &dyn Backend) {
    let at = TimestampMs(1_795_511_700_000);
    assert_eq!(db.insert_user("alice", "hash-a", at).unwrap(), Some(ALICE));
    assert_eq!(db.insert_user("bob", "hash-b", at).unwrap(), Some(BOB));
    assert_eq!(
        db.insert_user("alice", "other", at).unwrap(),
        None,
        "a name is taken once"
    );
    let (alice, hash) = db.credentials("alice").unwrap().unwrap();
    assert_eq!(
        (alice.id, hash.as_str(), alice.bot),
        (ALICE, "hash-a", false)
    );
    assert_eq!(db.credentials("carol").unwrap(), None);
    assert!(db.user_by_name("carol").is_err());
    db.mark_bot(BOB, Some("Bob's Bikes")).unwrap();
    let bob = db.user_by_name("bob").unwrap();
    assert!(bob.bot);
    assert_eq!(bob.merchant.as_deref(), Some("Bob's Bikes"));

    // The PIN: attempts are counted before they are checked, up to a limit, then locked.
    assert_eq!(db.pin_hash(ALICE).unwrap(), None);
    db.set_pin_hash(ALICE, "pin-hash").unwrap();
    assert_eq!(db.pin_hash(ALICE).unwrap().as_deref(), Some("pin-hash"));
    assert_eq!(db.count_pin_attempt(ALICE, 2, at).unwrap(), Some(1));
    assert_eq!(db.count_pin_attempt(ALICE, 2, at).unwrap(), Some(2));
    assert_eq!(db.count_pin_attempt(ALICE, 2, at).unwrap(), None);
    let state = |failures, locked_until, locks| PinState {
        failures,
        locked_until,
        locks,
    };
    assert_eq!(db.pin_state(ALICE).unwrap(), state(2, None, 0));
    let until = TimestampMs(at.0 + 60_000);
    db.lock_pin(ALICE, until).unwrap();
    assert_eq!(db.pin_state(ALICE).unwrap(), state(0, Some(until), 1));
    assert_eq!(db.count_pin_attempt(ALICE, 2, at).unwrap(), None, "locked");
    assert_eq!(db.pin_locked_until(ALICE, at.0).unwrap(), Some(until.0));
    assert_eq!(db.pin_locked_until(ALICE, until.0).unwrap(), None);
    assert_eq!(db.count_pin_attempt(ALICE, 2, until).unwrap(), Some(1));
    db.lock_pin(ALICE, until).unwrap();
    assert_eq!(
        db.pin_state(ALICE).unwrap().locks,
        2,
        "locks in a row are counted"
    );
    db.clear_pin_failures(ALICE).unwrap();
    assert_eq!(db.pin_state(ALICE).unwrap(), state(0, Some(until), 0));
    db.lock_pin(ALICE, until).unwrap();
    // A new PIN leaves nothing of the lock behind.
    db.set_pin_hash(ALICE, "new-pin-hash").unwrap();
    assert_eq!(db.pin_state(ALICE).unwrap(), state(0, None, 0));
}

/// The audit runs the same queries everywhere and finds the same faults: the wallets check
/// above left a refused credit's debit of a clearing account in place (its request was never
/// rolled back), a balance moved without a transfer.
fn the_audit_finds_what_is_broken(db: &dyn Backend) {
    let broken: Vec<&str> = db
        .audit_ledger()
        .unwrap()
        .into_iter()
        .filter(|finding| !finding.violations.is_empty())
        .map(|finding| finding.invariant)
        .collect();
    assert_eq!(
        broken,
        [
            "every currency sums to zero",
            "every balance equals the sum of its entries"
        ]
    );
    let totals = db.ledger_totals().unwrap();
    assert_eq!((totals.accounts, totals.transfers), (4, 4));
}

fn posting<'a>(
    key: &'a IdempotencyKey,
    from: AccountId,
    to: AccountId,
    amount: Money,
) -> Posting<'a> {
    Posting {
        initiator: Some(ALICE),
        key,
        fingerprint: "pay|bob",
        kind: TransferKind::Payment,
        from,
        to,
        amount,
        memo: "lunch",
        conversation_id: None,
        request_id: None,
        invoice_id: None,
    }
}

/// What `Wallets` promises, checked through the trait alone.
fn wallets_keep_their_contract(db: &dyn Backend) {
    let eur = Currency::from_code("EUR").unwrap();
    assert_eq!(db.wallet(ALICE, eur).unwrap(), None);
    let alice = db.open_wallet(ALICE, eur).unwrap();
    let bob = db.open_wallet(BOB, eur).unwrap();
    assert_eq!(db.wallet(ALICE, eur).unwrap(), Some(alice));
    assert_eq!(db.issuance(eur).unwrap(), None);
    let issuance = db.open_issuance(eur).unwrap();

    // Minting: issuance may go below zero, a wallet may not.
    let mint_key = IdempotencyKey("mint-1".into());
    let mint = Posting {
        initiator: None,
        kind: TransferKind::Mint,
        ..posting(&mint_key, issuance, alice, Money::new(1_000, eur))
    };
    assert!(matches!(
        db.post(&mint, TimestampMs(0)).unwrap(),
        Posted::Moved {
            debited: -1_000,
            ..
        }
    ));
    assert_eq!(
        db.account(issuance).unwrap(),
        (AccountKind::Issuance, -1_000)
    );
    assert_eq!(db.account(alice).unwrap(), (AccountKind::Wallet, 1_000));
    let refused = IdempotencyKey("refused".into());
    let at = TimestampMs(1_795_511_700_000);
    let overdraw = posting(&refused, alice, bob, Money::new(1_001, eur));
    assert_eq!(
        db.post(&overdraw, at).unwrap(),
        Posted::DebitRefused,
        "overdrew a wallet"
    );
    let from_empty = posting(&refused, bob, alice, Money::new(1, eur));
    assert_eq!(
        db.post(&from_empty, at).unwrap(),
        Posted::DebitRefused,
        "overdrew an empty wallet"
    );
    assert_eq!(db.account(alice).unwrap(), (AccountKind::Wallet, 1_000));
    assert_eq!(db.account(bob).unwrap(), (AccountKind::Wallet, 0));
    assert_eq!(db.transfer_by_key(ALICE, &refused).unwrap(), None);

    // A payment: both balances and the transfer with its entries.
    let key = IdempotencyKey("k-1".into());
    assert_eq!(db.claim_key(ALICE, &key, "pay").unwrap(), None);
    assert_eq!(
        db.claim_key(ALICE, &key, "split").unwrap(),
        Some("pay".into())
    );
    let amount = Money::new(250, eur);
    let Posted::Moved {
        transfer: id,
        debited: 750,
    } = db.post(&posting(&key, alice, bob, amount), at).unwrap()
    else {
        panic!("the payment was refused");
    };
    assert_eq!(db.account(bob).unwrap(), (AccountKind::Wallet, 250));
    let transfer = db.transfer(id).unwrap();
    assert_eq!(transfer.amount, amount);
    assert_eq!(transfer.from.map(|u| u.username), Some("alice".into()));
    assert_eq!(transfer.to.username, "bob");
    assert_eq!(transfer.created_at, at);
    assert_eq!(db.balance_after(id).unwrap(), Money::new(750, eur));
    assert_eq!(
        db.transfer_by_key(ALICE, &key).unwrap(),
        Some((id, "pay|bob".into()))
    );
    assert_eq!(db.paid_out_since(alice, at).unwrap(), 250);
    assert_eq!(db.paid_out_since(alice, TimestampMs(at.0 + 1)).unwrap(), 0);
    assert_eq!(db.balances(BOB).unwrap(), vec![Money::new(250, eur)]);

    // The statement: newest first, with the balance after each line.
    let lines = db.statement_lines(ALICE, TransferId(i64::MAX), 10).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].amount, Money::new(-250, eur));
    assert_eq!(lines[0].balance_after, Money::new(750, eur));
    assert_eq!(
        lines[0].counterparty.as_ref().map(|u| u.username.as_str()),
        Some("bob")
    );
    assert_eq!(lines[1].amount, Money::new(1_000, eur));
    assert_eq!(lines[1].balance_after, Money::new(1_000, eur));
    assert_eq!(
        lines[1].counterparty, None,
        "money from issuance comes from nobody"
    );

    // No balance leaves i64, either way; each bound itself can be reached.
    let clearing = db.open_clearing("partner", eur).unwrap();
    let big = |from, to, minor| Posting {
        initiator: None,
        kind: TransferKind::Mint,
        ..posting(&refused, from, to, Money::new(minor, eur))
    };
    assert!(matches!(
        db.post(&big(issuance, alice, i64::MAX - 999), at).unwrap(),
        Posted::Moved {
            debited: i64::MIN,
            ..
        }
    ));
    assert_eq!(
        db.post(&big(clearing, alice, 250), at).unwrap(),
        Posted::CreditRefused,
        "overflowed a balance"
    );
    assert_eq!(
        db.account(alice).unwrap(),
        (AccountKind::Wallet, i64::MAX - 249)
    );
    assert_eq!(
        db.post(&big(issuance, bob, 1), at).unwrap(),
        Posted::DebitRefused,
        "underflowed issuance"
    );
    assert!(matches!(
        db.post(&big(alice, issuance, i64::MAX - 999), at).unwrap(),
        Posted::Moved { debited: 750, .. }
    ));
}

/// The rules on top of the seam, on a backend: people register, talk, pay, retry a payment,
/// ask for money and are paid; every event lands in the right streams without a gap; the
/// ledger's audit finds nothing wrong.
fn people_chat_and_pay(db: &dyn Backend) {
    use quid::ledger::limits::Limits;
    use quid::ledger::payments::{PayOrder, mint, pay};
    use quid::ledger::requests::{RequestOrder, pay_request, request_money};
    use quid::protocol::ClientMsgId;
    use quid::store::writer::{Delivery, apply};

    let mut delivered: Vec<Delivery> = Vec::new();
    let mut step =
        |f: &mut dyn FnMut(&mut quid::store::writer::WriteCtx) -> Result<(), ApiError>| {
            let ((), deliveries) = apply(db, |ctx| f(ctx)).unwrap();
            delivered.extend(deliveries);
        };
    let eur = Currency::from_code("EUR").unwrap();
    let (mut alice, mut bob, mut carol) = (None, None, None);
    step(&mut |ctx| {
        alice = Some(quid::store::accounts::create_user(ctx, "alice", "hash")?);
        bob = Some(quid::store::accounts::create_user(ctx, "bob", "hash")?);
        carol = Some(quid::store::accounts::create_user(ctx, "carol", "hash")?);
        Ok(())
    });
    let (alice, bob, carol) = (alice.unwrap(), bob.unwrap(), carol.unwrap());
    step(&mut |ctx| {
        mint(
            ctx,
            &alice,
            Money::new(1_000, eur),
            &IdempotencyKey("mint".into()),
        )?;
        let direct = quid::store::conversations::open_direct(ctx, &alice, "bob")?;
        let lunch = quid::protocol::requests::Send {
            conversation_id: direct.id,
            client_id: ClientMsgId::random(),
            text: "lunch?".into(),
            reply_to: None,
            file: None,
        };
        quid::store::messages::send(ctx, &alice, &lunch)?;
        Ok(())
    });
    let key = IdempotencyKey("pay-1".into());
    let order = PayOrder {
        to: "bob",
        amount: Money::new(250, eur),
        memo: "lunch",
        conversation_id: None,
        key: &key,
    };
    let mut replies = Vec::new();
    for _ in 0..2 {
        step(&mut |ctx| {
            replies.push(pay(ctx, &alice, &order, &Limits::default())?);
            Ok(())
        });
    }
    assert!(
        !replies[0].duplicate && replies[1].duplicate,
        "a retry moved money again"
    );
    assert_eq!(
        replies[1].transfer, replies[0].transfer,
        "the reply to a retry, read from the store, differs from the first"
    );
    assert_eq!(replies[0].balance_after, Money::new(750, eur));
    step(&mut |ctx| {
        let asked = request_money(
            ctx,
            &bob,
            &RequestOrder {
                payer: "alice",
                amount: Money::new(100, eur),
                memo: "coffee",
                conversation_id: None,
                expires_in_secs: None,
                key: &IdempotencyKey("ask-1".into()),
            },
        )?;
        let paid = pay_request(
            ctx,
            &alice,
            asked.request.id,
            &IdempotencyKey("settle-1".into()),
            &Limits::default(),
        )?;
        assert_eq!(paid.balance_after, Money::new(650, eur));
        Ok(())
    });
    assert_eq!(db.balances(bob.id).unwrap(), vec![Money::new(350, eur)]);

    // Bob's history, oldest first: the message, the payment's card, the request's card (paying
    // a request updates its card rather than adding one).
    let conversation = db.conversations_of(bob.id).unwrap().remove(0);
    let (history, more) = db.history(bob.id, conversation.id, None, 50).unwrap();
    assert!(!more);
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["lunch?", "paid €2.50 to bob", "asked alice for €1.00"]
    );
    let request_card = format!("{:?}", history[2].card);
    assert!(
        request_card.contains("Paid"),
        "the card shows the request paid: {request_card}"
    );

    // Every user's stream is gapless from 1, and a replay reads back what was delivered.
    use quid::protocol::{Position, Seq};
    use quid::store::events::Place;
    for user in [alice.id, bob.id] {
        let seqs: Vec<i64> = delivered
            .iter()
            .filter_map(|d| match d.place {
                Place::User(to, seq) if to == user => Some(seq.0),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
        assert_eq!(db.latest_seq(user).unwrap().0, seqs.len() as i64);
        let replayed = db.events_after(user, Seq(0), 100).unwrap();
        assert_eq!(replayed.len(), seqs.len());
    }
    // The conversation's log holds each event once, gapless from 1, and both members read
    // all of it back; a node reading a range gets the same events.
    let positions: Vec<i64> = delivered
        .iter()
        .filter_map(|d| match d.place {
            Place::Conversation(id, pos) if id == conversation.id => Some(pos.0),
            _ => None,
        })
        .collect();
    assert!(
        positions.len() >= 3,
        "a message and two cards: {positions:?}"
    );
    assert_eq!(positions, (1..=positions.len() as i64).collect::<Vec<_>>());
    for user in [alice.id, bob.id] {
        let [window] = db.windows_of(user).unwrap()[..] else {
            panic!("one conversation each");
        };
        assert_eq!(window.last.0, positions.len() as i64);
        let read = db
            .conversation_events_for(user, conversation.id, Position(0), 100)
            .unwrap();
        assert_eq!(read.len(), positions.len());
    }
    let ranges = [(conversation.id, Position(2), Position(3))];
    let between = db.conversation_events_between(&ranges).unwrap();
    let found: Vec<_> = between.iter().map(|(c, p, _)| (*c, *p)).collect();
    assert_eq!(
        found,
        [
            (conversation.id, Position(2)),
            (conversation.id, Position(3))
        ]
    );
    let bobs = db
        .conversation_events_for(bob.id, conversation.id, Position(1), 2)
        .unwrap();
    assert_eq!(between[0].2, bobs[0].1);
    assert_eq!(between[1].2, bobs[1].1);
    let strangers = db
        .conversation_events_for(carol.id, conversation.id, Position(0), 100)
        .unwrap();
    assert!(
        strangers.is_empty(),
        "no window, nothing read: {strangers:?}"
    );

    // A joined event keeps no member list (a group of n made at once would store n lists of
    // n): a replay shows the members as they are now, carol added after alice joined.
    let seen = db.latest_seq(alice.id).unwrap();
    let ((), joined) = apply(db, |ctx| {
        let trip = quid::store::conversations::create_group(ctx, &alice, "trip", &["bob".into()])?;
        quid::store::conversations::add_member(ctx, &bob, trip.id, "carol")?;
        Ok(())
    })
    .unwrap();
    let replayed = db.events_after(alice.id, seen, 10).unwrap();
    let [(_, quid::protocol::Event::Joined { conversation: trip })] = &replayed[..] else {
        panic!("alice's one new event is joining the trip: {replayed:?}");
    };
    let names: Vec<&str> = trip.members.iter().map(|m| m.username.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let live = joined.last().unwrap();
    assert!(
        live.frame.contains(r#""username":"carol""#),
        "carol's own joined frame, live, lists the members: {}",
        live.frame
    );

    let broken = db
        .audit_ledger()
        .unwrap()
        .into_iter()
        .filter(|f| !f.violations.is_empty())
        .count();
    assert_eq!(broken, 0, "the ledger's audit found faults");
}

/// Runs `check` in one writing transaction on a fresh SQLite database (in memory: the same
/// schema and statements as a file's), then on a fresh PostgreSQL database (skipped, loudly,
/// when PostgreSQL is not installed).
fn on_each_backend(check: fn(&dyn Backend)) {
    let postgres = TestDb::postgres();
    let postgres = postgres.iter().map(|db| Store::open(&db.location).unwrap());
    for store in std::iter::once(Store::open_in_memory().unwrap()).chain(postgres) {
        store
            .write_once(|ctx| {
                check(ctx.db());
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn people_chat_and_pay_on_each_backend() {
    on_each_backend(people_chat_and_pay);
}

#[test]
fn every_contract_on_each_backend() {
    on_each_backend(every_contract);
}

/// The tables and columns a store holds, `table.column`, sorted.
type Layout = std::collections::BTreeSet<String>;

fn sqlite_layout(path: &std::path::Path) -> Layout {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut tables = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap();
    let names: Vec<String> = tables
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut layout = Layout::new();
    for table in names {
        let mut columns = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap();
        for column in columns
            .query_map([], |row| row.get::<_, String>(0))
            .unwrap()
        {
            layout.insert(format!("{table}.{}", column.unwrap()));
        }
    }
    layout
}

fn postgres_layout(url: &str) -> Layout {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .query(
            "SELECT table_name, column_name FROM information_schema.columns
             WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|row| format!("{}.{}", row.get::<_, String>(0), row.get::<_, String>(1)))
        .collect()
}

/// What only one backend holds, and why: each is its dialect's way of doing the same thing.
const SQLITE_ONLY: &[&str] = &[
    // Full-text search: an FTS5 table and its shadow tables, fed by a trigger.
    "message_words",
];
const POSTGRES_ONLY: &[&str] = &[
    // Full-text search: a tsvector column on the message.
    "messages.words",
    // The migrations' own record (SQLite keeps it in PRAGMA user_version).
    "quid_schema.",
    // Files' bytes, in the database so that every node serves every file (SQLite keeps them
    // in files beside the database).
    "file_chunks.",
];

#[test]
fn both_schemas_hold_the_same_tables_and_columns() {
    let sqlite = TestDb::sqlite();
    Store::open(&sqlite.location).unwrap();
    let Location::Sqlite(path) = &sqlite.location else {
        unreachable!("a SQLite test database");
    };
    let Some(postgres) = TestDb::postgres() else {
        return;
    };
    Store::open(&postgres.location).unwrap();
    let url = postgres.location.to_string();
    let (lite, pg) = (
        sqlite_layout(path),
        crate::common::off_async(|| postgres_layout(&url)),
    );
    let apart = |layout: &Layout, other: &Layout, allowed: &[&str]| -> Vec<String> {
        layout
            .difference(other)
            .filter(|c| !allowed.iter().any(|a| c.starts_with(a)))
            .cloned()
            .collect()
    };
    assert_eq!(
        apart(&lite, &pg, SQLITE_ONLY),
        Vec::<String>::new(),
        "only in SQLite"
    );
    assert_eq!(
        apart(&pg, &lite, POSTGRES_ONLY),
        Vec::<String>::new(),
        "only in PostgreSQL"
    );
}
