//! A server killed with SIGKILL mid-stream and restarted on the same database has every
//! message it acknowledged.

use crate::common::process::ServerProcess;
use crate::common::*;
use quid::protocol::requests;
use quid::protocol::{ClientMsgId, MessageId, RequestBody, results};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use url::Url;

async fn a_killed_server_loses_nothing_it_acknowledged(db: TestDb) {
    const SENDERS: usize = 4;
    const ACKS_BEFORE_KILL: usize = 60;
    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let url = Url::parse(&format!("ws://{}", server.addr)).unwrap();
    register(&url, "bob").await;
    let token = register(&url, "alice").await;
    let alice = connect(&url, &token).await;
    let conversation_id = open_direct(&alice, "bob").await;

    // Several connections send as fast as they are acknowledged; each ack is recorded.
    let acknowledged = Arc::new(Mutex::new(HashSet::<MessageId>::new()));
    let (enough_tx, enough) = tokio::sync::watch::channel(false);
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let connection = connect(&url, &token).await;
        let acknowledged = Arc::clone(&acknowledged);
        let enough_tx = enough_tx.clone();
        senders.push(tokio::spawn(async move {
            for n in 0.. {
                let sent = connection
                    .request::<results::Sent>(RequestBody::Send(requests::Send {
                        conversation_id,
                        client_id: ClientMsgId::random(),
                        text: format!("sender {sender} message {n}"),
                        reply_to: None,
                        file: None,
                    }))
                    .await;
                match sent {
                    Ok(sent) => {
                        let mut acked = acknowledged.lock().unwrap();
                        acked.insert(sent.message.id);
                        if acked.len() >= ACKS_BEFORE_KILL {
                            enough_tx.send_replace(true);
                        }
                    }
                    Err(_) => return, // Rate limited or the server is gone: this sender is done.
                }
            }
        }));
    }
    let mut enough = enough;
    tokio::time::timeout(PATIENCE, enough.wait_for(|e| *e))
        .await
        .unwrap()
        .unwrap();
    server.kill();
    for sender in senders {
        sender.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= ACKS_BEFORE_KILL);

    let server = ServerProcess::start(&db, "127.0.0.1:0");
    let url = Url::parse(&format!("ws://{}", server.addr)).unwrap();
    let alice = connect(&url, &token).await;
    let mut stored = HashSet::new();
    let mut before = None;
    loop {
        let page: results::History = alice
            .request(RequestBody::History(requests::History {
                conversation_id,
                before,
                limit: 200,
            }))
            .await
            .unwrap();
        stored.extend(page.messages.iter().map(|m| m.id));
        before = page.messages.first().map(|m| m.id);
        if !page.has_more {
            break;
        }
    }
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    drop(server);
}

on_each_backend!(
    multi_thread:
    a_killed_server_loses_nothing_it_acknowledged,
);
