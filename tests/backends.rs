//! The store's seam holds its contracts on every backend: each check here runs the same code
//! against SQLite and against PostgreSQL (a throwaway cluster). It grows with the PostgreSQL
//! backend, one trait at a time.

mod common;

use common::postgres::PgCluster;
use quid::money::{Currency, Money};
use quid::protocol::payments::{IdempotencyKey, TransferId, TransferKind};
use quid::protocol::{TimestampMs, UserId};
use quid::store::postgres::{PgTx, migrate};
use quid::store::wallets::{AccountId, AccountKind, Posting, Wallets};

const ALICE: UserId = UserId(1);
const BOB: UserId = UserId(2);
const USERS: &str = "INSERT INTO users (id, username, password_hash, created_at_ms)
                     VALUES (1, 'alice', '!', 0), (2, 'bob', '!', 0)";

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
fn wallets_keep_their_contract(db: &dyn Wallets) {
    let eur = Currency::from_code("EUR").unwrap();
    assert_eq!(db.wallet(ALICE, eur).unwrap(), None);
    let alice = db.open_wallet(ALICE, eur).unwrap();
    let bob = db.open_wallet(BOB, eur).unwrap();
    assert_eq!(db.wallet(ALICE, eur).unwrap(), Some(alice));
    assert_eq!(db.issuance(eur).unwrap(), None);
    let issuance = db.open_issuance(eur).unwrap();

    // Minting: issuance may go below zero, a wallet may not.
    assert!(db.adjust_balance(issuance, -1_000).unwrap());
    assert!(db.adjust_balance(alice, 1_000).unwrap());
    let mint_key = IdempotencyKey("mint-1".into());
    let mint = Posting {
        initiator: None,
        kind: TransferKind::Mint,
        ..posting(&mint_key, issuance, alice, Money::new(1_000, eur))
    };
    db.insert_transfer(&mint, TimestampMs(0)).unwrap();
    assert_eq!(
        db.account(issuance).unwrap(),
        (AccountKind::Issuance, -1_000)
    );
    assert!(
        !db.adjust_balance(alice, -1_001).unwrap(),
        "overdrew a wallet"
    );
    assert_eq!(db.account(alice).unwrap(), (AccountKind::Wallet, 1_000));
    assert!(
        !db.adjust_balance(bob, -1).unwrap(),
        "overdrew an empty wallet"
    );

    // A payment: both balances and the transfer with its entries.
    let key = IdempotencyKey("k-1".into());
    assert_eq!(db.claim_key(ALICE, &key, "pay").unwrap(), None);
    assert_eq!(
        db.claim_key(ALICE, &key, "split").unwrap(),
        Some("pay".into())
    );
    let amount = Money::new(250, eur);
    assert!(db.adjust_balance(alice, -250).unwrap());
    assert!(db.adjust_balance(bob, 250).unwrap());
    let at = TimestampMs(1_795_511_700_000);
    let id = db
        .insert_transfer(&posting(&key, alice, bob, amount), at)
        .unwrap();
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

    // No balance leaves i64, either way.
    assert!(
        !db.adjust_balance(bob, i64::MAX).unwrap(),
        "overflowed a balance"
    );
    assert!(db.adjust_balance(issuance, i64::MIN + 1_000).unwrap());
    assert!(
        !db.adjust_balance(issuance, -1).unwrap(),
        "underflowed issuance"
    );

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
}

#[test]
fn wallets_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = quid::store::Store::open(&dir.path().join("db")).unwrap();
    let mut conn = store.connect().unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch(&format!("{USERS};")).unwrap();
    wallets_keep_their_contract(&*tx);
}

#[test]
fn wallets_on_postgres() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let mut client = cluster.client();
    migrate(&mut client).unwrap();
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(USERS).unwrap();
    let tx = PgTx::new(tx);
    wallets_keep_their_contract(&tx);
    tx.commit().unwrap();
}
