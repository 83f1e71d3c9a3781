//! The webhook storm of issue 15: 200 top-ups paid at the sandbox's checkout while every
//! webhook is sent twice and shuffled, and the server (a separate process) is SIGKILLed twice
//! meanwhile. Every succeeded top-up is credited exactly once, no declined one ever, and the
//! ledger's audit is clean. Webhooks sent while the server is down are sent again by the
//! sandbox; the server also re-asks the partner about pending top-ups when it starts.

use crate::common::PATIENCE;
use crate::common::partner::{Partner, SECRET, checkout, topup};
use crate::common::process::ServerProcess;
use crate::common::{TestDb, assert_ledger_ok, connect, eur, open_store, register};
use quid::protocol::funding::{Funding, FundingStatus};
use quid::sandbox::book::{CARD_DECLINED, CARD_SUCCEEDS};
use quid::sandbox::webhooks::Switches;
use std::time::{Duration, Instant};

const TOP_UPS: usize = 200;

/// Every fourth top-up is declined; the others succeed.
fn card(index: usize) -> &'static str {
    if index.is_multiple_of(4) {
        CARD_DECLINED
    } else {
        CARD_SUCCEEDS
    }
}

fn start_server(
    db: &TestDb,
    listen: &str,
    partner: &str,
    secret: &std::path::Path,
) -> ServerProcess {
    let secret = secret.to_str().unwrap();
    ServerProcess::start_with(
        db,
        listen,
        &[
            "--partner",
            partner,
            "--partner-secret-file",
            secret,
            "--partner-recheck",
            "1",
            "--rate-limit",
            "1000",
            "--rate-burst",
            "1000",
        ],
        None,
    )
}

/// Pays the checkout pages of `fundings[range]`, eight at a time.
async fn pay(fundings: &[Funding], range: std::ops::Range<usize>) {
    for chunk in range.collect::<Vec<_>>().chunks(8) {
        let payments: Vec<_> = chunk
            .iter()
            .map(|&index| {
                let url = fundings[index].checkout_url.clone().unwrap();
                tokio::spawn(async move { checkout(&url, card(index), "pay").await })
            })
            .collect();
        for payment in payments {
            assert_eq!(payment.await.unwrap().0, 200);
        }
    }
}

/// alice's top-ups as the store has them, once none is pending.
async fn all_settled(db: &TestDb) -> Vec<Funding> {
    let store = open_store(db);
    let deadline = Instant::now() + PATIENCE * 6;
    loop {
        let store = std::sync::Arc::clone(&store);
        let fundings = tokio::task::spawn_blocking(move || {
            store.read_blocking(|db| {
                let alice = db.user_by_name("alice")?;
                db.fundings_of(alice.id, 1000)
            })
        })
        .await
        .unwrap()
        .unwrap();
        if fundings.iter().all(|f| f.status != FundingStatus::Pending) {
            return fundings;
        }
        assert!(
            Instant::now() < deadline,
            "top-ups still pending: {}",
            fundings
                .iter()
                .filter(|f| f.status == FundingStatus::Pending)
                .count()
        );
        // Polling the store: the server that would announce it is being killed.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn every_succeeded_top_up_is_credited_once_through_duplicates_shuffles_and_kills(db: TestDb) {
    let partner = Partner::bind(Switches {
        duplicate: true,
        shuffle: true,
        late: Duration::ZERO,
    })
    .await;
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("partner-secret");
    std::fs::write(&secret, SECRET).unwrap();
    let partner_arg = format!("sandbox={}", partner.base);
    let mut server = start_server(&db, "127.0.0.1:0", &partner_arg, &secret);
    let listen = server.addr.to_string();
    partner.serve(Some(server.addr));
    let url = url::Url::parse(&format!("ws://{listen}")).unwrap();
    let token = register(&url, "alice").await;
    let alice = connect(&url, &token).await;
    let mut fundings = Vec::new();
    for index in 0..TOP_UPS {
        fundings.push(topup(&alice, eur(100 + index as i64)).await);
    }
    drop(alice);

    let thirds = [
        0..TOP_UPS / 3,
        TOP_UPS / 3..2 * TOP_UPS / 3,
        2 * TOP_UPS / 3..TOP_UPS,
    ];
    for (third, range) in thirds.into_iter().enumerate() {
        pay(&fundings, range).await;
        if third < 2 {
            // Webhooks of these payments are in flight: kill the server under them.
            server.kill();
            server = start_server(&db, &listen, &partner_arg, &secret);
        }
    }
    let settled = all_settled(&db).await;
    server.terminate();

    let mut expected_balance = 0;
    for funding in &settled {
        let index = fundings.iter().position(|f| f.id == funding.id).unwrap();
        let expected = match card(index) {
            CARD_SUCCEEDS => FundingStatus::Succeeded,
            _ => FundingStatus::Failed,
        };
        assert_eq!(funding.status, expected, "top-up {index}");
        if expected == FundingStatus::Succeeded {
            expected_balance += funding.amount.amount_minor;
        }
    }
    assert_eq!(settled.len(), TOP_UPS);
    let store = open_store(&db);
    let balances = tokio::task::spawn_blocking(move || {
        store.read_blocking(|db| {
            let alice = db.user_by_name("alice")?;
            db.balances(alice.id)
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(balances, vec![eur(expected_balance)]);
    assert_ledger_ok(&db);
}

on_each_backend!(multi_thread: every_succeeded_top_up_is_credited_once_through_duplicates_shuffles_and_kills);
