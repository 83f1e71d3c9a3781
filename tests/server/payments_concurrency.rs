//! Many clients over real websockets pay each other among few accounts at once, retrying
//! some payments with the same idempotency key. Afterwards every ledger invariant holds,
//! no money was created or lost, and every key moved money at most once. The second test does
//! the same while the server is killed (SIGKILL) and restarted in the middle.

use crate::common::payers::*;
use crate::common::process::ServerProcess;
use crate::common::*;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

async fn concurrent_payments_with_retries_keep_the_ledger_whole(db: TestDb) {
    let server = TestServer::start(&db).await;
    let tokens = register_all(&server.url(), &db).await;
    let outcomes: Outcomes = Arc::default();
    for task in run_clients(&server.url(), &tokens, &outcomes, &Chat::default()).await {
        task.await.unwrap();
    }
    server.stop().await;
    assert_ledger_ok(&db);
    assert_each_key_applied_at_most_once(&db, &outcomes);
    let outcomes = outcomes.lock().unwrap();
    assert!(outcomes.values().filter(|s| s.moved == 1).count() > PEOPLE.len() * 5);
    assert!(
        outcomes.values().any(|s| s.duplicates > 0),
        "retries happened"
    );
}

async fn concurrent_payments_survive_a_killed_server(db: TestDb) {
    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let listen = server.addr.to_string();
    let url = Url::parse(&format!("ws://{listen}")).unwrap();
    let tokens = register_all(&url, &db).await;
    let outcomes: Outcomes = Arc::default();
    let tasks = run_clients(&url, &tokens, &outcomes, &Chat::default()).await;

    // Kill the server once a good share of payments went through, then bring it back.
    let halfway = PEOPLE.len() * CLIENTS_PER_PERSON * PAYMENTS_PER_CLIENT / 3;
    tokio::time::timeout(PATIENCE, async {
        while outcomes.lock().unwrap().len() < halfway {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("payments flow before the crash");
    server.kill();
    let _restarted = ServerProcess::start(&db, &listen);
    for task in tasks {
        task.await.unwrap();
    }
    assert_ledger_ok(&db);
    assert_each_key_applied_at_most_once(&db, &outcomes);
}

on_each_backend!(
    multi_thread:
    concurrent_payments_with_retries_keep_the_ledger_whole,
    concurrent_payments_survive_a_killed_server,
);
