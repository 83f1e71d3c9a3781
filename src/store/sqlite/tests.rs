use super::*;

/// A new store at `path` with the first `version` migrations, as that build made it.
fn at_version(path: &Path, version: usize) -> Connection {
    let conn = connect(path).unwrap();
    for (index, migration) in MIGRATIONS[..version].iter().enumerate() {
        let apply = format!(
            "BEGIN; {migration} PRAGMA user_version = {}; COMMIT;",
            index + 1
        );
        conn.execute_batch(&apply).unwrap();
    }
    conn
}

/// The writer's connection with a flush that waits for the test's go-ahead, and that
/// tells the test of each commit and each flush begun.
struct GatedWriter {
    conn: Connection,
    committed: std::sync::mpsc::Sender<()>,
    flushing: std::sync::mpsc::Sender<()>,
    go_ahead: Arc<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>,
}

impl BatchConnection for GatedWriter {
    fn in_transaction(
        &mut self,
        run: &mut dyn FnMut(&dyn BatchTx),
    ) -> Result<Durability, ApiError> {
        let tx = self.conn.transaction()?;
        run(&*tx);
        tx.commit()?;
        self.committed.send(()).unwrap();
        let (flushing, go_ahead) = (self.flushing.clone(), Arc::clone(&self.go_ahead));
        Ok(Durability::AfterSync(Arc::new(move || {
            flushing.send(()).unwrap();
            go_ahead.lock().unwrap().recv().unwrap();
            Ok(())
        })))
    }
}

#[tokio::test]
async fn callers_hear_once_the_flush_is_done_while_the_next_batch_commits() {
    use crate::store::writer::{Connections, Writer};
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::Store::open_sqlite(&dir.path().join("quid.db")).unwrap();
    let (committed, commits) = std::sync::mpsc::channel();
    let (flushing, flushes) = std::sync::mpsc::channel();
    let (go_ahead, gate) = std::sync::mpsc::channel();
    let writer = GatedWriter {
        conn: store.connect().unwrap(),
        committed,
        flushing,
        go_ahead: Arc::new(std::sync::Mutex::new(gate)),
    };
    let connections = Connections {
        shared: vec![Box::new(writer)],
        lanes: Vec::new(),
    };
    let (writer, _threads) = Writer::start_on(connections, Arc::new(|_: &[_]| {})).unwrap();
    let register = |name: &'static str| {
        let writer = writer.clone();
        tokio::spawn(async move {
            writer
                .write(move |ctx| crate::store::accounts::create_user(ctx, name, "hash"))
                .await
        })
    };
    let alice = register("alice");
    let wait = |events: std::sync::mpsc::Receiver<()>| {
        tokio::task::spawn_blocking(move || {
            // A deadline, so that a writer that waits for the flush fails rather than hangs.
            events
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("the writer committed nothing more");
            events
        })
    };
    let commits = wait(commits).await.unwrap();
    let flushes = wait(flushes).await.unwrap();
    // alice's batch is committed and being flushed: bob's commits meanwhile, and nobody
    // has heard yet.
    let bob = register("bob");
    let _commits = wait(commits).await.unwrap();
    assert!(!alice.is_finished() && !bob.is_finished());
    go_ahead.send(()).unwrap();
    go_ahead.send(()).unwrap();
    assert!(alice.await.unwrap().is_ok());
    assert!(bob.await.unwrap().is_ok());
    drop(flushes);
}

#[test]
fn the_writer_starts_the_wal_over_though_it_never_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quid.db");
    let mut conn = connect(&path).unwrap();
    conn.execute_batch("CREATE TABLE notes (body BLOB NOT NULL)")
        .unwrap();
    // No background checkpoint at all: only the writer's own keeps the WAL small.
    let limits = WalLimits {
        background: i32::MAX,
        restart: 100,
    };
    let checkpoints = Checkpointer::start(connect(&path).unwrap()).unwrap();
    bound_the_wal(&mut conn, limits, checkpoints).unwrap();
    for _ in 0..1_000 {
        conn.execute("INSERT INTO notes (body) VALUES (zeroblob(1000))", [])
            .unwrap();
    }
    let frame = 24
        + conn
            .pragma_query_value(None, "page_size", |row| row.get::<_, i64>(0))
            .unwrap() as u64;
    let wal = std::fs::metadata(dir.path().join("quid.db-wal"))
        .unwrap()
        .len();
    // A thousand commits of a page or two each; the WAL holds no more than the limit and
    // one commit's frames.
    assert!(
        wal <= 32 + 110 * frame,
        "the WAL grew to {} frames",
        wal / frame
    );
}

#[test]
fn messages_stored_before_search_existed_are_indexed_by_its_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quid.db");
    // A store as schema version 6 left it, with a message in it.
    let conn = at_version(&path, 6);
    conn.execute_batch(
        "INSERT INTO users (username, password_hash, created_at_ms) VALUES ('alice', '!', 0);
         INSERT INTO conversations (kind, name, created_at_ms) VALUES ('group', 'g', 0);
         INSERT INTO messages (conversation_id, sender_id, client_id, text, sent_at_ms)
             VALUES (1, 1, 'c', 'Hello, world!', 0);",
    )
    .unwrap();
    drop(conn);
    let conn = create(&path).unwrap();
    let found: i64 = conn
        .query_row(
            "SELECT rowid FROM message_words WHERE message_words MATCH '\"world\"'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(found, 1);
}

#[test]
fn a_batch_indexes_its_messages_words_as_it_left_them_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = create(&dir.path().join("quid.db")).unwrap();
    let matching = |conn: &Connection, word: &str| -> Vec<i64> {
        let mut query = conn
            .prepare("SELECT rowid FROM message_words WHERE message_words MATCH ?1")
            .unwrap();
        query
            .query_map([format!("\"{word}\"")], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "INSERT INTO users (username, password_hash, created_at_ms) VALUES ('alice', '!', 0);
         INSERT INTO conversations (kind, name, created_at_ms) VALUES ('group', 'g', 0);
         INSERT INTO messages (conversation_id, sender_id, client_id, text, sent_at_ms)
             VALUES (1, 1, 'a', 'lunch at noon', 0), (1, 1, 'b', 'tea later', 0);
         UPDATE messages SET text = 'lunch at one' WHERE id = 1;",
    )
    .unwrap();
    assert!(
        matching(&tx, "lunch").is_empty(),
        "nothing is indexed before the batch ends"
    );
    BatchTx::before_commit(&*tx, &[]).unwrap();
    tx.commit().unwrap();
    assert_eq!(matching(&conn, "lunch"), [1]);
    assert_eq!(matching(&conn, "one"), [1]);
    assert!(matching(&conn, "noon").is_empty(), "the edit replaced it");
    assert_eq!(matching(&conn, "tea"), [2]);
    // The next batch indexes only what came since.
    conn.execute(
        "INSERT INTO messages (conversation_id, sender_id, client_id, text, sent_at_ms)
             VALUES (1, 1, 'c', 'more tea', 0)",
        [],
    )
    .unwrap();
    BatchTx::before_commit(&conn, &[]).unwrap();
    assert_eq!(matching(&conn, "tea"), [2, 3]);
}

#[test]
fn the_ledger_survives_the_rebuild_that_adds_clearing_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quid.db");
    // A store as schema version 11 left it: a minted wallet and a paid request.
    let conn = at_version(&path, 11);
    conn.execute_batch(
        "INSERT INTO users (username, password_hash, created_at_ms) VALUES ('alice', '!', 0);
         INSERT INTO conversations (kind, created_at_ms) VALUES ('direct', 0);
         INSERT INTO accounts (kind, currency, balance_minor) VALUES ('issuance', 'EUR', -500);
         INSERT INTO accounts (kind, user_id, currency, balance_minor) VALUES ('wallet', 1, 'EUR', 500);
         INSERT INTO transfers (idempotency_key, fingerprint, kind, from_account, to_account,
             amount_minor, currency, memo, created_at_ms) VALUES ('k', 'mint', 'mint', 1, 2, 500, 'EUR', '', 0);
         INSERT INTO entries (transfer_id, account_id, amount_minor) VALUES (1, 1, -500), (1, 2, 500);
         INSERT INTO payment_requests (conversation_id, requester_id, payer_id, amount_minor,
             currency, memo, status, idempotency_key, fingerprint, transfer_id, created_at_ms, updated_at_ms)
             VALUES (1, 1, 1, 500, 'EUR', '', 'paid', 'r', 'f', 1, 0, 0);",
    )
    .unwrap();
    drop(conn);
    let conn = create(&path).unwrap();
    let (kind, balance): (String, i64) = conn
        .query_row(
            "SELECT kind, balance_minor FROM accounts WHERE id = 2",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((kind.as_str(), balance), ("wallet", 500));
    let paid_by: i64 = conn
        .query_row(
            "SELECT t.id FROM payment_requests r JOIN transfers t ON t.id = r.transfer_id",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(paid_by, 1);
    let foreign_keys: i64 = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .unwrap();
    assert_eq!(foreign_keys, 1, "foreign keys are back on after migrating");
    let overdraw = conn.execute("UPDATE accounts SET balance_minor = -1 WHERE id = 2", []);
    assert!(overdraw.is_err(), "a negative wallet was accepted");
    let dangling = conn.execute(
        "INSERT INTO entries (transfer_id, account_id, amount_minor) VALUES (1, 99, 1)",
        [],
    );
    assert!(dangling.is_err(), "an entry of no account was accepted");
    conn.execute(
        "INSERT INTO accounts (kind, provider, currency, balance_minor) VALUES ('clearing', 'sandbox', 'EUR', -1)",
        [],
    )
    .unwrap();
}
