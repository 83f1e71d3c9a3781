//! The PostgreSQL backend against a real throwaway cluster: what exists of it so far.

mod common;

use common::postgres::PgCluster;
use quid::store::postgres::{MigrateError, migrate};

#[test]
fn the_schema_migrates_once_even_when_nodes_start_together_and_guards_the_ledger() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    // Two nodes starting at the same moment: the advisory lock lets one migrate.
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let mut client = cluster.client();
            std::thread::spawn(move || migrate(&mut client))
        })
        .collect();
    for racer in racers {
        racer.join().expect("no panic").expect("migrated");
    }
    let mut client = cluster.client();
    migrate(&mut client).expect("a third run finds nothing to do");
    let version: i64 = client
        .query_one("SELECT version FROM quid_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 1);
    let rows: i64 = client
        .query_one("SELECT COUNT(*) FROM quid_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);

    // The last line of defence holds here too: a wallet cannot go below zero.
    client
        .batch_execute(
            "INSERT INTO users (username, password_hash, created_at_ms) VALUES ('alice', '!', 0);
             INSERT INTO accounts (kind, user_id, currency) VALUES ('wallet', 1, 'EUR');",
        )
        .unwrap();
    let overdraw = client.execute("UPDATE accounts SET balance_minor = -1 WHERE id = 1", &[]);
    assert!(overdraw.is_err(), "a negative wallet was accepted");

    // A database from a newer quid is refused, not downgraded.
    client
        .execute("UPDATE quid_schema SET version = 99", &[])
        .unwrap();
    assert!(matches!(
        migrate(&mut client),
        Err(MigrateError::TooNew { found: 99, .. })
    ));
}
