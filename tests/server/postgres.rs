//! The PostgreSQL backend against a real throwaway cluster: migrations, the writer, the
//! expiry sweep's lock. (The end-to-end suites run on it too, and tests/server/nodes.rs.)

use crate::common::postgres::PgCluster;
use quid::store::postgres::{OpenError, migrate};

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
    assert_eq!(version, 10);
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

    // Messages stored before search existed (version 1) are indexed by the migration to 2.
    client
        .batch_execute(
            "DROP TABLE file_chunks;
             ALTER TABLE messages DROP COLUMN file_id;
             DROP TABLE files, uploads;
             DROP TABLE conversation_events;
             ALTER TABLE conversations DROP COLUMN last_pos;
             ALTER TABLE members DROP COLUMN joined_pos, DROP COLUMN left_pos;
             ALTER TABLE users DROP COLUMN pin_locks;
             DROP TABLE provider_events, fundings;
             DROP INDEX accounts_clearing;
             ALTER TABLE accounts DROP CONSTRAINT accounts_clearing_has_provider,
                 DROP CONSTRAINT accounts_wallet_not_negative, DROP COLUMN provider;
             ALTER TABLE accounts ADD CONSTRAINT accounts_check
                 CHECK (kind = 'issuance' OR balance_minor >= 0);
             DROP INDEX messages_expiring;
             ALTER TABLE messages DROP COLUMN expires_at_ms;
             DROP TABLE one_time_keys, devices;
             ALTER TABLE conversations DROP COLUMN secret;
             ALTER TABLE messages DROP COLUMN sealed;
             DROP INDEX messages_by_word;
             ALTER TABLE messages DROP COLUMN words;
             DROP TABLE mentions;
             ALTER TABLE members DROP COLUMN muted;
             DROP TABLE reactions;
             ALTER TABLE messages DROP COLUMN reply_to_id, DROP COLUMN edited_at_ms,
                 DROP COLUMN deleted;
             UPDATE quid_schema SET version = 1;
             INSERT INTO conversations (kind, name, created_at_ms) VALUES ('group', 'g', 0);
             INSERT INTO messages (conversation_id, sender_id, client_id, text, sent_at_ms)
                 VALUES (1, 1, 'c', 'Hello, world: hello!', 0);",
        )
        .unwrap();
    migrate(&mut client).expect("migrated to version 10");
    let words: String = client
        .query_one("SELECT words::text FROM messages", &[])
        .unwrap()
        .get(0);
    assert_eq!(words, "'hello':1,3 'world':2");

    // A database from a newer quid is refused, not downgraded.
    client
        .execute("UPDATE quid_schema SET version = 99", &[])
        .unwrap();
    assert!(matches!(
        migrate(&mut client),
        Err(OpenError::TooNew { found: 99, .. })
    ));
}

#[test]
fn the_writer_commits_batches_on_postgres_and_rolls_a_refused_request_back_alone() {
    use quid::protocol::{ApiError, UserId};
    use quid::store::accounts::create_user;
    use quid::store::writer::{Delivery, Writer};
    use std::sync::{Arc, Mutex};

    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let location = quid::store::location::parse_db(&cluster.url()).unwrap();
    let store = quid::store::Store::open(&location).unwrap();
    let published: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let sink = Arc::clone(&published);
    let (writer, thread) = Writer::start(
        &store,
        Arc::new(move |deliveries: &[Delivery]| sink.lock().unwrap().extend_from_slice(deliveries)),
    )
    .unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (alice, refused, panicked, bob) = runtime.block_on(async {
        tokio::join!(
            writer.write(|ctx| create_user(ctx, "alice", "hash")),
            writer.write(|ctx| {
                create_user(ctx, "ghost", "hash")?;
                // A statement PostgreSQL refuses (no such user), which leaves the whole
                // transaction refusing statements until it rolls back to the request's
                // savepoint: the requests after it must still commit.
                ctx.db().insert_token("hash", UserId(999), ctx.now())
            }),
            writer.write(|ctx| -> Result<(), ApiError> {
                create_user(ctx, "phantom", "hash")?;
                panic!("an invariant failed");
            }),
            writer.write(|ctx| create_user(ctx, "bob", "hash")),
        )
    });
    assert!(alice.is_ok() && bob.is_ok(), "{alice:?} {bob:?}");
    assert!(refused.is_err() && panicked.is_err());
    drop(writer);
    thread.join().unwrap();

    let mut check = cluster.client();
    let names: Vec<String> = check
        .query("SELECT username FROM users ORDER BY username", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        names,
        ["alice", "bob"],
        "a refused request left rows behind"
    );
    assert!(
        published.lock().unwrap().is_empty(),
        "registering emits no event"
    );
}

/// The expiry sweep is held by one transaction at a time, across connections (nodes), and
/// free again once that transaction ends.
#[test]
fn one_transaction_at_a_time_holds_the_expiry_sweep() {
    use quid::store::postgres::{PgTx, Statements};
    use quid::store::prelude::*;
    let Some(cluster) = PgCluster::shared() else {
        return;
    };
    let (mut node_a, mut node_b) = (cluster.client(), cluster.client());
    let (cache_a, cache_b) = (Statements::default(), Statements::default());
    let sweeping = PgTx::begin_on(&mut node_a, &cache_a).unwrap();
    assert!(sweeping.hold_expiry_sweep().unwrap());
    {
        let other = PgTx::begin_on(&mut node_b, &cache_b).unwrap();
        assert!(!other.hold_expiry_sweep().unwrap(), "held by node A");
    }
    sweeping.commit().unwrap();
    let next = PgTx::begin_on(&mut node_b, &cache_b).unwrap();
    assert!(
        next.hold_expiry_sweep().unwrap(),
        "free once A's sweep ended"
    );
}
