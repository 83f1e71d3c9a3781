use super::*;
use crate::protocol::{ClientMsgId, ConversationId, MessageId, TimestampMs, User, UserId};
use crate::secret::device::fingerprint;

impl Endpoint {
    /// What `read` found, without whether it was the first time.
    fn read_text(&mut self, message: &Message) -> Result<Option<Opened>, SecretError> {
        Ok(self.read(message)?.map(|read| read.opened))
    }
}

fn endpoint(dir: &Path, username: &str) -> Endpoint {
    Endpoint::open(dir, username, &Unlock::KeyFile).unwrap()
}

/// What the server would hand out for `to`'s device: its keys and one one-time key.
fn claim_from(to: &mut Endpoint) -> ClaimedKey {
    let published = to.keys_to_publish(1, false).unwrap();
    ClaimedKey {
        device: published.device,
        key: published.one_time_keys[0].clone(),
        fallback: false,
    }
}

fn message(id: i64, sender: &str, sealed: Sealed) -> Message {
    Message {
        id: MessageId(id),
        conversation_id: ConversationId(7),
        sender: User::new(UserId(1), sender),
        client_id: ClientMsgId::random(),
        text: String::new(),
        sent_at: TimestampMs(0),
        card: None,
        reply_to: None,
        file: None,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        sealed: Some(Box::new(sealed)),
        expires_at: None,
        unreadable: None,
    }
}

/// Alice and bob with a session from alice to bob, each having pinned the other.
fn pair(alice_dir: &Path, bob_dir: &Path) -> (Endpoint, Endpoint) {
    let mut alice = endpoint(alice_dir, "alice");
    let mut bob = endpoint(bob_dir, "bob");
    let claimed = claim_from(&mut bob);
    alice.check_devices("bob", &[bob.device_keys()]).unwrap();
    alice.start_sessions(&[claimed]).unwrap();
    bob.check_devices("alice", &[alice.device_keys()]).unwrap();
    (alice, bob)
}

#[test]
fn messages_are_read_once_kept_and_a_replay_is_dropped() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut alice, mut bob) = pair(a.path(), b.path());
    let sealed = alice
        .seal("meet at noon", None, &[bob.device_keys()])
        .unwrap();
    let first = message(1, "alice", sealed.clone());
    assert_eq!(
        bob.read_text(&first).unwrap(),
        Some(Opened::Text("meet at noon".into()))
    );
    // Read again (the event replayed after a crash before its ack): from the vault, since
    // the one-time key it used is gone and decrypting again would fail.
    drop(bob);
    let mut bob = endpoint(b.path(), "bob");
    assert_eq!(
        bob.read_text(&first).unwrap(),
        Some(Opened::Text("meet at noon".into()))
    );
    let Some(Opened::Unreadable(why)) = bob.read_text(&message(2, "alice", sealed)).unwrap() else {
        panic!("a replay must be marked, not shown");
    };
    assert!(why.starts_with("a replay of message 1"), "{why}");

    let reply = bob.seal("see you", None, &[alice.device_keys()]).unwrap();
    alice.check_devices("bob", &[bob.device_keys()]).unwrap();
    assert_eq!(
        alice.read_text(&message(3, "bob", reply)).unwrap(),
        Some(Opened::Text("see you".into()))
    );
    let history = bob.history(ConversationId(7)).unwrap();
    assert_eq!(
        history,
        vec![(MessageId(1), Opened::Text("meet at noon".into()))]
    );
}

#[test]
fn a_crash_before_the_commit_leaves_the_message_readable() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut alice, bob) = pair(a.path(), b.path());
    let first = message(
        1,
        "alice",
        alice.seal("one", None, &[bob.device_keys()]).unwrap(),
    );
    drop(bob);
    // The vault as it was before bob read the message: what a crash before the commit
    // leaves (the transaction is rolled back).
    let before = tempfile::tempdir().unwrap();
    for file in ["secret.db", "secret.key"] {
        std::fs::copy(b.path().join(file), before.path().join(file)).unwrap();
    }
    let mut bob = endpoint(b.path(), "bob");
    assert_eq!(
        bob.read_text(&first).unwrap(),
        Some(Opened::Text("one".into()))
    );
    let mut restarted = endpoint(before.path(), "bob");
    assert_eq!(
        restarted.read_text(&first).unwrap(),
        Some(Opened::Text("one".into()))
    );
}

#[test]
fn what_cannot_be_read_says_why_and_an_unknown_sender_is_asked_for() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut alice, mut bob) = pair(a.path(), b.path());
    let mut sealed = alice.seal("secret", None, &[bob.device_keys()]).unwrap();
    // Alice's device, pinned as hers, in a message the server says carol sent.
    let unknown = bob
        .read_text(&message(1, "carol", sealed.clone()))
        .unwrap_err();
    assert!(
        matches!(unknown, SecretError::UnknownDevice { .. }),
        "{unknown}"
    );

    let mut tampered = sealed.clone();
    let body = &mut tampered.copies[0].body;
    body.replace_range(10..11, if &body[10..11] == "A" { "B" } else { "A" });
    let Some(Opened::Unreadable(why)) = bob.read_text(&message(2, "alice", tampered)).unwrap()
    else {
        panic!("a tampered ciphertext must not read");
    };
    assert!(why.starts_with("cannot decrypt"), "{why}");

    sealed.copies[0].device = "another device".into();
    let Some(Opened::Unreadable(why)) = bob.read_text(&message(3, "alice", sealed)).unwrap() else {
        panic!("a copy for another device must not read");
    };
    assert!(why.contains("not sealed for this device"), "{why}");
}

#[test]
fn a_device_not_seen_before_is_refused_until_accepted() {
    let (a, b, b2) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (alice, bob) = pair(a.path(), b.path());
    let other = endpoint(b2.path(), "bob");
    let devices = [bob.device_keys(), other.device_keys()];
    let error = alice
        .check_devices("bob", &devices)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("bob's identity keys changed: device "),
        "{error}"
    );
    assert!(
        error.contains(&fingerprint(&other.device_keys())),
        "{error}"
    );
    // The warning showed `other`; the server drops it again before the acceptance:
    // nothing is pinned, and the next listing of it warns anew.
    assert_eq!(alice.accept_devices("bob", &devices[..1]).unwrap(), []);
    let unwarned = alice.accept_devices("bob", &devices).unwrap_err();
    assert!(
        matches!(unwarned, SecretError::ListChanged { .. }),
        "{unwarned}"
    );
    // Now shown (in that refusal), it is what the next acceptance pins.
    assert_eq!(
        alice.accept_devices("bob", &devices).unwrap(),
        [other.device_keys()]
    );
    alice.check_devices("bob", &devices).unwrap();

    let mut forged = other.device_keys();
    forged.username = "carol".into();
    assert!(alice.check_devices("carol", &[forged]).is_err());
}

#[test]
fn an_id_opened_before_is_shown_only_for_that_very_message() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut alice, mut bob) = pair(a.path(), b.path());
    let first = message(
        1,
        "alice",
        alice.seal("for bob", None, &[bob.device_keys()]).unwrap(),
    );
    bob.read(&first).unwrap();
    let mut elsewhere = first.clone();
    elsewhere.conversation_id = ConversationId(8);
    let mut from_carol = first.clone();
    from_carol.sender = User::new(UserId(3), "carol");
    let mut other_text = first.clone();
    other_text.sealed = Some(Box::new(
        alice
            .seal("something else", None, &[bob.device_keys()])
            .unwrap(),
    ));
    for (what, reused) in [
        ("conversation", elsewhere),
        ("sender", from_carol),
        ("ciphertext", other_text),
    ] {
        let Some(Opened::Unreadable(why)) = bob.read_text(&reused).unwrap() else {
            panic!("another {what} under id 1 was shown");
        };
        assert!(why.contains("sent message 1 again"), "{what}: {why}");
    }
    assert_eq!(
        bob.read_text(&first).unwrap(),
        Some(Opened::Text("for bob".into())),
        "the real one still reads"
    );
}

#[test]
fn a_message_opened_before_messages_were_bound_is_bound_on_its_next_read() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut alice, mut bob) = pair(a.path(), b.path());
    let first = message(
        1,
        "alice",
        alice
            .seal("from before", None, &[bob.device_keys()])
            .unwrap(),
    );
    bob.read(&first).unwrap();
    // The row as the store kept it before: bound to its id only.
    let sealed = bob.vault.seal(
        "messages:1",
        &serde_json::to_vec(&Opened::Text("from before".into())).unwrap(),
    );
    bob.vault
        .conn()
        .execute(
            "UPDATE messages SET sender = NULL, sender_device = NULL, digest = NULL,
             sealed = ?1 WHERE id = 1",
            [sealed],
        )
        .unwrap();
    let mut elsewhere = first.clone();
    elsewhere.conversation_id = ConversationId(8);
    assert!(matches!(
        bob.read_text(&elsewhere).unwrap(),
        Some(Opened::Unreadable(_))
    ));
    assert_eq!(
        bob.read_text(&first).unwrap(),
        Some(Opened::Text("from before".into()))
    );
    let bound: Option<String> = bob
        .vault
        .conn()
        .query_row("SELECT sender FROM messages WHERE id = 1", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(bound.as_deref(), Some("alice"));
}

#[test]
fn a_disappearing_message_counts_from_the_time_sealed_not_the_servers() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut alice, mut bob) = pair(a.path(), b.path());
    let before = TimestampMs::now();
    let sealed = alice.seal("brief", Some(60), &[bob.device_keys()]).unwrap();
    // The server says it was sent a day later, to keep it around longer.
    let mut late = message(1, "alice", sealed);
    late.sent_at = TimestampMs(before.0 + 86_400_000);
    let read = bob.read(&late).unwrap().unwrap();
    let at = read.expires_at.unwrap();
    assert!(
        at.0 >= before.0 + 60_000 && at.0 <= TimestampMs::now().0 + 60_000,
        "{at:?} is not 60 s after sealing"
    );
}

#[test]
fn a_timer_announced_is_kept_and_its_messages_are_forgotten_on_time() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut alice, mut bob) = pair(a.path(), b.path());
    let announce = alice.seal_timer(60, &[bob.device_keys()]).unwrap();
    assert_eq!(
        bob.read_text(&message(1, "alice", announce)).unwrap(),
        Some(Opened::Timer(60))
    );
    assert_eq!(bob.timer(ConversationId(7)).unwrap(), Some(60));

    let sealed = alice
        .seal("gone in a minute", Some(60), &[bob.device_keys()])
        .unwrap();
    let read = bob.read(&message(2, "alice", sealed)).unwrap().unwrap();
    assert_eq!(read.opened, Opened::Text("gone in a minute".into()));
    // It goes 60 s after the time sealed inside it, exactly then.
    let at = read.expires_at.unwrap();
    bob.forget_expired(TimestampMs(at.0 - 1)).unwrap();
    assert_eq!(bob.history(ConversationId(7)).unwrap().len(), 2);
    bob.forget_expired(at).unwrap();
    let left: Vec<MessageId> = bob
        .history(ConversationId(7))
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(left, vec![MessageId(1)], "the text is gone from the store");
}

#[test]
fn a_forgotten_message_leaves_no_copy_in_the_store_file_or_its_log() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut alice, mut bob) = pair(a.path(), b.path());
    let sealed = alice
        .seal("gone in a minute", Some(60), &[bob.device_keys()])
        .unwrap();
    let at = bob
        .read(&message(1, "alice", sealed))
        .unwrap()
        .unwrap()
        .expires_at
        .unwrap();
    let kept: Vec<u8> = bob
        .vault
        .conn()
        .query_row("SELECT sealed FROM messages WHERE id = 1", [], |row| {
            row.get(0)
        })
        .unwrap();
    let files = || {
        ["secret.db", "secret.db-wal"].map(|f| std::fs::read(b.path().join(f)).unwrap_or_default())
    };
    let holds = |bytes: &[u8]| bytes.windows(kept.len()).any(|w| w == kept.as_slice());
    assert!(
        files().iter().any(|f| holds(f)),
        "the test must see the row first"
    );
    bob.forget_expired(at).unwrap();
    for (name, bytes) in ["secret.db", "secret.db-wal"].iter().zip(files()) {
        assert!(!holds(&bytes), "{name} still holds the forgotten message");
    }
}
