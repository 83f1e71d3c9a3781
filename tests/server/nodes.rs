//! Several `quid serve` nodes on one PostgreSQL database: people connected to different nodes
//! chat, type and pay each other live; each sees its own stream in seq order and each
//! conversation's log in order, with nothing doubled or skipped. (Skipped, loudly, when PostgreSQL is not installed.)

use crate::common::*;
use quid::protocol::payments::IdempotencyKey;
use quid::protocol::requests;
use quid::protocol::{ClientMsgId, ConversationId, Event, Position, RequestBody, results};
use quid::session::connection::{Connection, Pushed};
use tokio::sync::mpsc;

/// A logged-in connection subscribed to its stream from the start.
async fn subscribed(url: &url::Url, token: &str) -> (Connection, mpsc::Receiver<Pushed>) {
    let (connection, mut pushed) = Connection::open(url, Some(token)).await.unwrap();
    connection
        .hello(Some(quid::session::connection::Resume::everything()))
        .await
        .unwrap();
    next_pushed(&mut pushed, |p| {
        matches!(p, Pushed::CaughtUp(_)).then_some(())
    })
    .await;
    (connection, pushed)
}

/// Waits for the first pushed frame `pick` maps to `Some`; every event on the way must come
/// right after the previous one (`last`).
async fn next_pushed<T>(
    pushed: &mut mpsc::Receiver<Pushed>,
    mut pick: impl FnMut(&Pushed) -> Option<T>,
) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let frame = pushed.recv().await.expect("connection still open");
            if let Some(found) = pick(&frame) {
                return found;
            }
        }
    })
    .await
    .expect("expected frame did not arrive in time")
}

/// The text of a message event, with its position in the conversation's log.
fn message(frame: &Pushed) -> Option<(Position, String)> {
    match frame {
        Pushed::ConversationEvent(_, pos, Event::Message { message }) => {
            Some((*pos, message.text.clone()))
        }
        _ => None,
    }
}

async fn send(connection: &Connection, conversation_id: ConversationId, text: &str) {
    let _: results::Sent = connection
        .request(RequestBody::Send(requests::Send {
            conversation_id,
            client_id: ClientMsgId::random(),
            text: text.into(),
            reply_to: None,
            file: None,
        }))
        .await
        .unwrap();
}

#[tokio::test]
async fn two_nodes_serve_one_conversation_live() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let node_a = TestServer::start(&db).await;
    let node_b = TestServer::start(&db).await;
    let alice_token = register(&node_a.url(), "alice").await;
    let bob_token = register(&node_b.url(), "bob").await;
    mint(&db, "bob", eur(5_000));
    let (alice, mut on_a) = subscribed(&node_a.url(), &alice_token).await;
    let (bob, mut on_b) = subscribed(&node_b.url(), &bob_token).await;
    let conversation = open_direct(&alice, "bob").await;

    // Messages both ways, each reaching the other node live, in the log's order.
    let mut seen_by_bob = Vec::new();
    for n in 0..5 {
        send(&alice, conversation, &format!("from A {n}")).await;
        seen_by_bob.push(next_pushed(&mut on_b, message).await);
    }
    let texts: Vec<&str> = seen_by_bob.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        texts,
        ["from A 0", "from A 1", "from A 2", "from A 3", "from A 4"]
    );
    let positions: Vec<i64> = seen_by_bob.iter().map(|(p, _)| p.0).collect();
    assert!(
        positions.windows(2).all(|w| w[1] == w[0] + 1),
        "{positions:?}"
    );

    send(&bob, conversation, "from B").await;
    let (_, text) = next_pushed(&mut on_a, |f| message(f).filter(|(_, t)| t == "from B")).await;
    assert_eq!(text, "from B");

    // Typing is relayed too, though never stored.
    let _: results::Empty = alice
        .request(RequestBody::Typing(requests::Typing {
            conversation_id: conversation,
        }))
        .await
        .unwrap();
    let typist = next_pushed(&mut on_b, |f| match f {
        Pushed::Typing(id, user) if *id == conversation => Some(user.username.clone()),
        _ => None,
    })
    .await;
    assert_eq!(typist, "alice");

    // A payment made on B is on alice's screen on A.
    let _: results::Paid = bob
        .request(RequestBody::Pay(requests::Pay {
            to: "alice".into(),
            amount: eur(1_250),
            memo: "lunch".into(),
            conversation_id: None,
            idempotency_key: IdempotencyKey::random(),
            pin: None,
        }))
        .await
        .unwrap();
    let card = next_pushed(&mut on_a, |f| match f {
        Pushed::ConversationEvent(_, _, Event::Message { message }) => message.card.clone(),
        _ => None,
    })
    .await;
    assert!(format!("{card:?}").contains("1250"), "{card:?}");

    drop((alice, bob));
    node_a.stop().await;
    node_b.stop().await;
    assert_ledger_ok(&db);
}

#[tokio::test]
async fn one_user_on_two_nodes_gets_each_event_on_both_once() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let node_a = TestServer::start(&db).await;
    let node_b = TestServer::start(&db).await;
    let alice_token = register(&node_a.url(), "alice").await;
    let (_alice_a, mut on_a) = subscribed(&node_a.url(), &alice_token).await;
    let (_alice_b, mut on_b) = subscribed(&node_b.url(), &alice_token).await;
    let bot_token = create_bot(&db, "helper", None);
    let bot = connect(&node_a.url(), &bot_token).await;
    let conversation = open_direct(&bot, "alice").await;
    send(&bot, conversation, "hello from a bot").await;
    send(&bot, conversation, "and again").await;
    for pushed in [&mut on_a, &mut on_b] {
        let mut events = Vec::new();
        while events.len() < 3 {
            match next_pushed(pushed, |f| match f {
                Pushed::Event(seq, event) => Some((seq.0, event.clone())),
                Pushed::ConversationEvent(_, pos, event) => Some((pos.0, event.clone())),
                _ => None,
            })
            .await
            {
                (seq, Event::Joined { .. }) => events.push((seq, "joined".to_owned())),
                (pos, Event::Message { message }) => events.push((pos, message.text)),
                other => panic!("unexpected {other:?}"),
            }
        }
        let texts: Vec<&str> = events.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["joined", "hello from a bot", "and again"]);
        let positions: Vec<i64> = events[1..].iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, [1, 2], "the log's first two, each once");
    }
    node_a.stop().await;
    node_b.stop().await;
}

/// Two `quid serve` processes behind a balancer; 8 clients (two per person) pay each other at
/// random, resending a third of the payments under the same key, and talk in a group; node A
/// is SIGKILLed a third of the way in, and its clients (and everyone's sessions) carry on
/// through node B. Nothing is created, lost or applied twice, and every message the server
/// acknowledged reaches every member's session exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_run_loses_nothing_and_its_clients_carry_on_on_the_other() {
    use crate::common::payers::*;
    use crate::common::process::ServerProcess;
    use crate::common::proxy::Balancer;
    use quid::protocol::MessageId;

    use std::collections::HashSet;
    use std::sync::Arc;

    let Some(db) = TestDb::postgres() else {
        return;
    };
    let node_a = ServerProcess::start(&db, "127.0.0.1:0");
    let node_b = ServerProcess::start(&db, "127.0.0.1:0");
    let balancer = Balancer::start(vec![node_a.addr, node_b.addr]).await;
    let url = balancer.url();
    let tokens = register_all(&url, &db).await;
    let founder = connect(&url, &tokens[0]).await;
    let group: results::OneConversation = founder
        .request(RequestBody::CreateGroup(requests::CreateGroup {
            name: "everyone".into(),
            members: PEOPLE[1..].iter().map(|p| p.to_string()).collect(),
        }))
        .await
        .unwrap();
    let group = group.conversation.id;
    drop(founder);

    // Each person's session, collecting the group's messages as they arrive.
    let mut received = Vec::new();
    let mut sessions = Vec::new();
    for (person, token) in PEOPLE.iter().zip(&tokens) {
        let (session, mut events) = session(&url, token, &db.path(person));
        caught_up(&mut events).await;
        received.push(collect_messages(events, group));
        sessions.push(session);
    }

    let outcomes: Outcomes = Arc::default();
    let chat = Chat {
        group: Some(group),
        ..Chat::default()
    };
    let tasks = run_clients(&url, &tokens, &outcomes, &chat).await;
    let a_third = PEOPLE.len() * CLIENTS_PER_PERSON * PAYMENTS_PER_CLIENT / 3;
    tokio::time::timeout(PATIENCE, async {
        while outcomes.lock().unwrap().len() < a_third {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("payments flow before the crash");
    node_a.kill();
    for task in tasks {
        task.await.unwrap();
    }

    assert_ledger_ok(&db);
    assert_each_key_applied_at_most_once(&db, &outcomes);
    let acknowledged = chat.acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > PEOPLE.len(), "the clients talked");
    for (person, seen) in PEOPLE.iter().zip(&mut received) {
        let all = tokio::time::timeout(
            PATIENCE,
            seen.wait_for(|got| acknowledged.iter().all(|id| got.contains(id))),
        )
        .await
        .unwrap_or_else(|_| panic!("{person} is missing acknowledged messages"))
        .unwrap()
        .clone();
        let distinct: HashSet<&MessageId> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "{person} got a message twice");
    }
    drop((sessions, node_b));
}

/// Both nodes sweep for due requests; the expiry is applied, and announced, once.
#[tokio::test]
async fn a_request_expires_once_however_many_nodes_sweep() {
    use quid::protocol::payments::RequestStatus;
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let config = || quid::server::ServerConfig {
        expiry_sweep: std::time::Duration::from_millis(20),
        ..Default::default()
    };
    let node_a = TestServer::start_with(&db, config()).await;
    let node_b = TestServer::start_with(&db, config()).await;
    let alice_token = register(&node_a.url(), "alice").await;
    register(&node_b.url(), "bob").await;
    let (alice, mut on_a) = subscribed(&node_a.url(), &alice_token).await;
    let asked: results::RequestMade = alice
        .request(RequestBody::RequestMoney(requests::RequestMoney {
            from: "bob".into(),
            amount: eur(100),
            memo: String::new(),
            conversation_id: None,
            expires_in_secs: Some(1),
            idempotency_key: IdempotencyKey::random(),
        }))
        .await
        .unwrap();
    let expired = |f: &Pushed| match f {
        Pushed::ConversationEvent(_, _, Event::RequestUpdated { request }) => Some(request.status),
        _ => None,
    };
    assert_eq!(
        next_pushed(&mut on_a, expired).await,
        RequestStatus::Expired
    );
    // Several sweeps of both nodes later, a message: no second expiry came before it.
    let conversation = asked.request.conversation_id;
    for n in 0..10 {
        let _: results::Balance = alice.request(RequestBody::Balance).await.unwrap();
        send(&alice, conversation, &format!("later {n}")).await;
    }
    let mut between = Vec::new();
    next_pushed(&mut on_a, |f| {
        between.push(expired(f));
        message(f).filter(|(_, t)| t == "later 9")
    })
    .await;
    assert!(between.iter().all(Option::is_none), "{between:?}");
    node_a.stop().await;
    node_b.stop().await;
}

/// Transactions run side by side on PostgreSQL: people opening the same direct conversation
/// at once on two nodes, and paying each other both ways at once, all succeed (the losers of
/// a race run again and find what the winner committed), with one conversation per pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_contacts_and_crossed_payments_all_succeed() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let nodes = [TestServer::start(&db).await, TestServer::start(&db).await];
    let people = ["ann", "ben", "cat"];
    let mut connections = Vec::new();
    for (n, person) in people.iter().enumerate() {
        let url = nodes[n % 2].url();
        let token = register(&url, person).await;
        mint(&db, person, eur(10_000));
        // Two connections each, one on each node.
        for node in &nodes {
            connections.push((*person, connect(&node.url(), &token).await));
        }
    }
    let mut racing = Vec::new();
    for (me, connection) in &connections {
        for other in people.iter().filter(|p| *p != me) {
            let connection = connection.clone();
            let other = other.to_string();
            racing.push(tokio::spawn(async move {
                let opened: results::OneConversation = connection
                    .request(RequestBody::OpenDirect(requests::OpenDirect {
                        username: other.clone(),
                    }))
                    .await
                    .expect("opening a conversation in a race");
                let _: results::Paid = connection
                    .request(RequestBody::Pay(requests::Pay {
                        to: other,
                        amount: eur(100),
                        memo: String::new(),
                        conversation_id: None,
                        idempotency_key: IdempotencyKey::random(),
                        pin: None,
                    }))
                    .await
                    .expect("a payment in a race");
                opened.conversation.id
            }));
        }
    }
    let mut opened = std::collections::HashSet::new();
    for race in racing {
        opened.insert(race.await.unwrap());
    }
    assert_eq!(opened.len(), 3, "one direct conversation per pair");
    drop(connections);
    for node in nodes {
        node.stop().await;
    }
    assert_ledger_ok(&db);
}

/// What the paying client has seen so far.
#[derive(Clone, Copy, Default)]
struct Traffic {
    /// Payments the server acknowledged, each under a key of its own.
    acknowledged: i64,
    /// Answers that said `unavailable`.
    unavailable: u32,
}

/// Alice pays carol one cent after another, each under a key of its own; a payment refused as
/// `unavailable` is sent again under its key after the pause the server asked for. Any other
/// refusal fails the test. Returns the connection once `stop` is set.
async fn pay_until_stopped(
    alice: Connection,
    progress: tokio::sync::watch::Sender<Traffic>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Connection {
    use quid::protocol::ErrorCode;
    use quid::session::connection::RequestError;
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let body = RequestBody::Pay(requests::Pay {
            to: "carol".into(),
            amount: eur(1),
            memo: String::new(),
            conversation_id: None,
            idempotency_key: IdempotencyKey(format!("cent-{n}")),
            pin: None,
        });
        loop {
            match alice.request::<results::Paid>(body.clone()).await {
                Ok(_) => break progress.send_modify(|seen| seen.acknowledged += 1),
                Err(RequestError::Api(e)) if e.code == ErrorCode::Unavailable => {
                    let pause = e
                        .retry_after_ms
                        .expect("`unavailable` says when to come back");
                    progress.send_modify(|seen| seen.unavailable += 1);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(other) => panic!("payment {n} while PostgreSQL restarts: {other}"),
            }
        }
        n += 1;
    }
    alice
}

async fn until(seen: &mut tokio::sync::watch::Receiver<Traffic>, done: impl Fn(&Traffic) -> bool) {
    tokio::time::timeout(PATIENCE, seen.wait_for(|traffic| done(traffic)))
        .await
        .expect("the traffic went as expected in time")
        .expect("the payer is still running");
}

/// Asks the node's `/healthz` until it says ready, as a load balancer does.
async fn until_ready(node: &TestServer) {
    tokio::time::timeout(PATIENCE, async {
        while !http_get_at(node.addr, "/healthz")
            .await
            .starts_with("HTTP/1.1 200 OK")
        {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the node serves again once PostgreSQL is back");
}

/// PostgreSQL crashes under traffic and comes back: meanwhile each node answers requests
/// `unavailable` with a pause, upgrades and `/healthz` with 503 and `Retry-After`; afterwards
/// every node serves again without a restart, its listener hears the other node again (bob,
/// connected throughout, gets alice's message live), and each acknowledged payment moved money
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_restarts_nodes_answer_unavailable_and_then_serve_again() {
    use quid::session::connection::ConnectError;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let Some(cluster) = crate::common::postgres::PgCluster::start() else {
        return;
    };
    let db = TestDb::postgres_on(&cluster);
    let node_a = TestServer::start(&db).await;
    let node_b = TestServer::start(&db).await;
    let alice_token = register(&node_a.url(), "alice").await;
    let bob_token = register(&node_b.url(), "bob").await;
    // Paid, not connected: bob's connection only hears the message at the end (a client that
    // reads nothing for long enough is dropped as too far behind).
    let carol_token = register(&node_b.url(), "carol").await;
    off_async(|| mint(&db, "alice", eur(1_000_000)));
    let alice = connect(&node_a.url(), &alice_token).await;
    let conversation = open_direct(&alice, "bob").await;
    let (_bob, mut on_b) = subscribed(&node_b.url(), &bob_token).await;
    let (progress, mut seen) = tokio::sync::watch::channel(Traffic::default());
    let stop = Arc::new(AtomicBool::new(false));
    let payer = tokio::spawn(pay_until_stopped(alice, progress, Arc::clone(&stop)));
    until(&mut seen, |traffic| traffic.acknowledged >= 5).await;

    off_async(|| cluster.crash());
    until(&mut seen, |traffic| traffic.unavailable >= 1).await;
    for node in [&node_a, &node_b] {
        match Connection::open(&node.url(), Some(&bob_token)).await {
            Err(ConnectError::Unavailable { retry_after, .. }) => {
                assert_eq!(retry_after.as_secs(), 2, "the server's Retry-After");
            }
            Err(other) => panic!("an upgrade while PostgreSQL is away: {other}"),
            Ok(_) => panic!("a session opened while PostgreSQL is away"),
        }
        let health = http_get_at(node.addr, "/healthz").await;
        assert!(
            health.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{health}"
        );
        // Header names are any case; hyper writes them in lower case.
        let lower = health.to_ascii_lowercase();
        assert!(lower.contains("\r\nretry-after: 2\r\n"), "{health}");
    }

    off_async(|| cluster.start_again());
    for node in [&node_a, &node_b] {
        until_ready(node).await;
    }
    let before = seen.borrow().acknowledged;
    until(&mut seen, |traffic| traffic.acknowledged >= before + 5).await;
    stop.store(true, Ordering::Relaxed);
    let alice = payer.await.unwrap();

    for node in [&node_a, &node_b] {
        connect(&node.url(), &bob_token).await;
    }
    send(&alice, conversation, "back again").await;
    next_pushed(&mut on_b, |frame| {
        message(frame).filter(|(_, text)| text == "back again")
    })
    .await;
    let carol = connect(&node_b.url(), &carol_token).await;
    let balance: results::Balance = carol.request(RequestBody::Balance).await.unwrap();
    let paid = seen.borrow().acknowledged;
    assert_eq!(
        balance.balances,
        vec![eur(paid)],
        "one cent per acknowledged key"
    );
    off_async(|| assert_ledger_ok(&db));
}

/// The README's "Running several nodes" commands, as written, against a cluster that checks
/// passwords over TCP: the role and its database are made, two nodes start on the URL, and
/// `quid admin` mints to a user one node registered, which the other node shows.
#[tokio::test]
async fn the_readmes_several_nodes_recipe_works_as_written() {
    use crate::common::process::ServerProcess;
    let Some(cluster) = crate::common::postgres::PgCluster::requiring_passwords() else {
        return;
    };
    let recipe = readme_block("## Running several nodes");
    let shell = ReadmeShell::new(&cluster);
    let mut nodes = Vec::new();
    for line in recipe.lines() {
        if line.trim_start().starts_with("quid serve") {
            nodes.push(shell.spawn(line));
        } else if line.contains(" mint ") {
            let node_a: &ServerProcess = &nodes[0];
            register(&url_of(node_a.addr), "alice").await;
            shell.run(line, "");
        } else {
            // The password `--pwprompt` asks for, twice: the one the URLs below carry.
            shell.run(line, "SECRET\nSECRET\n");
        }
    }
    assert_eq!(nodes.len(), 2, "the recipe starts two nodes:\n{recipe}");
    let alice = login(&url_of(nodes[1].addr), "alice").await;
    let balance: results::Balance = alice.request(RequestBody::Balance).await.unwrap();
    assert_eq!(
        balance.balances,
        vec![eur(10_000)],
        "minted through `quid admin`, read on node B"
    );
}

/// The first ```sh block after `heading` in the README.
fn readme_block(heading: &str) -> String {
    let readme = include_str!("../../README.md");
    let section = &readme[readme.find(heading).expect("the README has the section")..];
    let start = section.find("```sh\n").expect("the section has a sh block") + "```sh\n".len();
    let end = start + section[start..].find("```").expect("the block ends");
    section[start..end].to_owned()
}

/// Runs README lines with `sh`, on this machine standing in for the README's hosts: the
/// database host is `cluster` (`sudo -u postgres` its superuser over the local socket, which
/// peer authentication would give on a real host), `db.internal:5432` its TCP address, and
/// each node's public `0.0.0.0:7447` a free loopback port.
struct ReadmeShell<'c> {
    cluster: &'c crate::common::postgres::PgCluster,
    path: std::ffi::OsString,
}

impl<'c> ReadmeShell<'c> {
    fn new(cluster: &'c crate::common::postgres::PgCluster) -> ReadmeShell<'c> {
        let quid_dir = std::path::Path::new(crate::common::process::QUID)
            .parent()
            .unwrap();
        let mut dirs = vec![cluster.bin().to_owned(), quid_dir.to_owned()];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        ReadmeShell {
            cluster,
            path: std::env::join_paths(dirs).unwrap(),
        }
    }

    fn command(&self, line: &str) -> std::process::Command {
        let line = line
            .replace(
                "db.internal:5432",
                &format!("127.0.0.1:{}", self.cluster.port()),
            )
            .replace("0.0.0.0:7447", "127.0.0.1:0");
        // `sudo -u postgres CMD`: CMD as the cluster's superuser; nothing else is expected.
        let script = format!(
            "sudo() {{ [ \"$1 $2\" = '-u postgres' ] || exit 99; shift 2; PGUSER=postgres \"$@\"; }}\n{line}"
        );
        // `setsid`: no terminal, so `--pwprompt` reads the password from stdin.
        let mut command = std::process::Command::new("setsid");
        command
            .args(["-w", "sh", "-c", &script])
            .env("PATH", &self.path)
            .env("PGHOST", self.cluster.socket_dir())
            .env("PGPORT", self.cluster.port().to_string())
            .env("RUST_LOG", "warn");
        command
    }

    /// Runs `line` to its end with `input` on stdin; it must succeed.
    fn run(&self, line: &str, input: &str) {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .command(line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "README line failed: {line}\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts a `quid serve` line and waits until it says where it listens.
    fn spawn(&self, line: &str) -> crate::common::process::ServerProcess {
        crate::common::process::ServerProcess::from_command(self.command(&format!("exec {line}")))
    }
}

fn url_of(addr: std::net::SocketAddr) -> url::Url {
    format!("ws://{addr}").parse().unwrap()
}
