//! Secret conversations through a real server (issue 14), on each backend: the key directory
//! (publish, list, claim) and its refusals, keys handed out once each even under concurrent
//! claims, and a session started from claimed keys.

use crate::common::*;
use quid::protocol::requests;
use quid::protocol::secret::{
    DeviceKeys, KeyKind, Sealed, SealedCopy, SignedKey, device_signed_text, key_signed_text,
    verify_device,
};
use quid::protocol::{
    ClientMsgId, Conversation, ConversationId, ConversationKind, ErrorCode, Event, RequestBody,
    results,
};
use quid::secret::device::{Device, as_pre_key};
use quid::session::SessionEvent;
use quid::session::connection::{Connection, RequestError};
use std::collections::HashSet;
use vodozemac::olm::OlmMessage;

fn publish_body(
    device: DeviceKeys,
    one_time_keys: Vec<SignedKey>,
    fallback_key: Option<SignedKey>,
) -> RequestBody {
    RequestBody::PublishKeys(requests::PublishKeys {
        device,
        one_time_keys,
        fallback_key,
    })
}

async fn publish(
    connection: &Connection,
    device: DeviceKeys,
    one_time_keys: Vec<SignedKey>,
    fallback_key: Option<SignedKey>,
) -> Result<u32, RequestError> {
    let published: results::KeysPublished = connection
        .request(publish_body(device, one_time_keys, fallback_key))
        .await?;
    Ok(published.one_time_keys)
}

async fn claim(connection: &Connection, devices: &[&str]) -> results::ClaimedKeys {
    connection
        .request(RequestBody::ClaimKeys(requests::ClaimKeys {
            devices: devices.iter().map(|d| d.to_string()).collect(),
        }))
        .await
        .unwrap()
}

async fn devices_of(connection: &Connection, username: &str) -> Vec<DeviceKeys> {
    let found: results::Devices = connection
        .request(RequestBody::Devices(requests::Devices {
            username: username.into(),
        }))
        .await
        .unwrap();
    found.devices
}

/// Device keys `account` signs for `username` with `curve25519` as the id (its own, or one
/// it does not hold: a signature cannot prove holding a Curve25519 key).
fn raw_device_keys(
    account: &vodozemac::olm::Account,
    username: &str,
    curve25519: &str,
) -> DeviceKeys {
    let ed25519 = account.identity_keys().ed25519.to_base64();
    let signature = account
        .sign(device_signed_text(username, curve25519, &ed25519))
        .to_base64();
    DeviceKeys {
        username: username.into(),
        curve25519: curve25519.into(),
        ed25519,
        signature,
    }
}

/// The refusal's code and message.
fn refusal(result: Result<u32, RequestError>) -> (ErrorCode, String) {
    match result {
        Err(RequestError::Api(error)) => (error.code, error.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn keys_are_claimed_once_each_then_the_fallback_and_the_owner_is_told(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob_token = register(&server.url(), "bob").await;
    let bob = connect(&server.url(), &bob_token).await;
    let (_bob_session, mut bob_events) = session(&server.url(), &bob_token, &db.path("bob"));
    caught_up(&mut bob_events).await;

    let mut phone = Device::new("bob");
    let keys = phone.one_time_keys(3);
    let fallback = phone.fallback_key();
    let held = publish(&bob, phone.keys(), keys.clone(), fallback.clone())
        .await
        .unwrap();
    assert_eq!(held, 3);
    let again = publish(&bob, phone.keys(), keys.clone(), None)
        .await
        .unwrap();
    assert_eq!(again, 3, "publishing the same keys again adds nothing");

    let listed = devices_of(&alice, "bob").await;
    assert_eq!(listed, vec![phone.keys()]);
    let device = verify_device(&listed[0]).unwrap();
    let id = phone.keys().curve25519;

    let mut handed_out = HashSet::new();
    for left in [2, 1, 0] {
        let claimed = claim(&alice, &[&id]).await;
        let key = &claimed.keys[0];
        assert!(!key.fallback);
        device.verify_key(KeyKind::OneTime, &key.key).unwrap();
        assert!(handed_out.insert(key.key.key_id.clone()), "a key twice");
        let told = next_matching(&mut bob_events, |e| match e {
            SessionEvent::Event {
                event: Event::KeysLow { one_time_keys, .. },
                ..
            } => Some(one_time_keys),
            _ => None,
        })
        .await;
        assert_eq!(told, left);
    }
    let claimed = claim(&alice, &[&id, "no-such-device"]).await;
    assert!(claimed.keys[0].fallback, "{claimed:?}");
    assert_eq!(Some(&claimed.keys[0].key), fallback.as_ref());
    device
        .verify_key(KeyKind::Fallback, &claimed.keys[0].key)
        .unwrap();
    assert_eq!(claimed.unavailable, vec!["no-such-device".to_owned()]);
    server.stop().await;
}

async fn forged_foreign_and_conflicting_keys_are_refused(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let mut phone = Device::new("bob");
    let keys = phone.one_time_keys(2);

    let mut forged = phone.keys();
    forged.ed25519 = Device::new("bob").keys().ed25519;
    let (code, message) = refusal(publish(&bob, forged, vec![], None).await);
    assert_eq!(code, ErrorCode::InvalidArgument);
    assert!(
        message.contains("not signed by its own signing key"),
        "{message}"
    );

    let (code, message) = refusal(publish(&alice, phone.keys(), vec![], None).await);
    assert_eq!(code, ErrorCode::InvalidArgument);
    assert!(message.contains("only your own devices"), "{message}");

    let mut tampered = keys[0].clone();
    tampered.key = keys[1].key.clone();
    let (code, message) = refusal(publish(&bob, phone.keys(), vec![tampered], None).await);
    assert_eq!(code, ErrorCode::InvalidArgument);
    assert!(
        message.contains("is not signed by that device"),
        "{message}"
    );
    let mut as_fallback = keys[0].clone();
    as_fallback.key_id = "other".into();
    let (_, message) = refusal(publish(&bob, phone.keys(), vec![], Some(as_fallback)).await);
    assert!(message.contains("fallback key other"), "{message}");

    publish(&bob, phone.keys(), keys.clone(), None)
        .await
        .unwrap();
    let mut renumbered = phone.one_time_keys(1).remove(0);
    renumbered.key_id = keys[0].key_id.clone();
    let (_, message) = refusal(publish(&bob, phone.keys(), vec![renumbered], None).await);
    assert!(
        message.contains("is not signed by that device"),
        "{message}"
    );

    // A device that signs two keys under one id (a broken client) has the second refused.
    let tablet = vodozemac::olm::Account::new();
    let tablet_keys = raw_device_keys(
        &tablet,
        "bob",
        &tablet.identity_keys().curve25519.to_base64(),
    );
    let key = |seed: &vodozemac::olm::Account| {
        let key = seed.identity_keys().curve25519.to_base64();
        let signature = tablet
            .sign(key_signed_text(KeyKind::OneTime, "bob", "AAAAAQ", &key))
            .to_base64();
        SignedKey {
            key_id: "AAAAAQ".into(),
            key,
            signature,
        }
    };
    let first = key(&vodozemac::olm::Account::new());
    publish(&bob, tablet_keys.clone(), vec![first], None)
        .await
        .unwrap();
    let second = key(&vodozemac::olm::Account::new());
    let (_, message) = refusal(publish(&bob, tablet_keys, vec![second], None).await);
    assert!(
        message.contains("was published with another key"),
        "{message}"
    );

    // Bob's device under alice's name fails bob's signature; signed by alice's own key, it is
    // still bob's device id: not hers to take.
    let mut renamed = phone.keys();
    renamed.username = "alice".into();
    let (code, _) = refusal(publish(&alice, renamed, vec![], None).await);
    assert_eq!(code, ErrorCode::InvalidArgument, "the signature names bob");
    let mallory = vodozemac::olm::Account::new();
    let stolen = raw_device_keys(&mallory, "alice", &phone.keys().curve25519);
    let (code, message) = refusal(publish(&alice, stolen, vec![], None).await);
    assert_eq!(code, ErrorCode::Forbidden, "{message}");
    assert_eq!(devices_of(&alice, "alice").await, vec![]);
    assert_eq!(
        devices_of(&alice, "bob").await.len(),
        2,
        "nothing else was stored"
    );
    server.stop().await;
}

async fn concurrent_claims_never_share_a_key(db: TestDb) {
    let server = TestServer::start(&db).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let mut phone = Device::new("bob");
    let keys = phone.one_time_keys(12);
    publish(&bob, phone.keys(), keys, phone.fallback_key())
        .await
        .unwrap();
    let id = phone.keys().curve25519;
    let mut claimers = Vec::new();
    for name in ["carol", "dave", "erin", "frank"] {
        let token = register(&server.url(), name).await;
        let url = server.url();
        let id = id.clone();
        claimers.push(tokio::spawn(async move {
            let connection = connect(&url, &token).await;
            let mut got = Vec::new();
            for _ in 0..4 {
                got.push(claim(&connection, &[&id]).await.keys.remove(0));
            }
            got
        }));
    }
    let mut one_time = HashSet::new();
    let mut fallbacks = 0;
    for claimer in claimers {
        for key in claimer.await.unwrap() {
            if key.fallback {
                fallbacks += 1;
            } else {
                assert!(one_time.insert(key.key.key_id), "a one-time key twice");
            }
        }
    }
    assert_eq!((one_time.len(), fallbacks), (12, 4));
    server.stop().await;
}

async fn two_devices_start_a_session_from_keys_the_server_handed_out(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let mut laptop = Device::new("alice");
    let mut phone = Device::new("bob");
    publish(&alice, laptop.keys(), laptop.one_time_keys(1), None)
        .await
        .unwrap();
    publish(&bob, phone.keys(), phone.one_time_keys(1), None)
        .await
        .unwrap();

    let bobs = devices_of(&alice, "bob").await;
    let claimed = claim(&alice, &[bobs[0].id()]).await.keys.remove(0);
    let device = verify_device(&claimed.device).unwrap();
    let key = device.verify_key(KeyKind::OneTime, &claimed.key).unwrap();
    let first = laptop
        .start_session(&device, key)
        .unwrap()
        .encrypt("the code is 4711")
        .unwrap();

    let alices = verify_device(&devices_of(&bob, "alice").await[0]).unwrap();
    let (_, plaintext) = phone
        .accept(alices.curve25519, as_pre_key(&first).unwrap())
        .unwrap();
    assert_eq!(plaintext, b"the code is 4711");
    server.stop().await;
}

on_each_backend!(
    keys_are_claimed_once_each_then_the_fallback_and_the_owner_is_told,
    forged_foreign_and_conflicting_keys_are_refused,
    two_devices_start_a_session_from_keys_the_server_handed_out,
);
on_each_backend!(multi_thread: concurrent_claims_never_share_a_key);

/// `text` sealed with `session` for `device`, as a sealed message's copy.
fn seal(session: &mut vodozemac::olm::Session, device: &str, text: &str) -> SealedCopy {
    use base64::Engine;
    let (message_type, bytes) = session.encrypt(text).unwrap().to_parts();
    SealedCopy {
        device: device.into(),
        message_type: message_type as u8,
        body: base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes),
    }
}

/// What `copy` says to `device`, the first message of a session from `sender`.
fn open_first(device: &mut Device, sender: &DeviceKeys, copy: &SealedCopy) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&copy.body)
        .unwrap();
    let message = OlmMessage::from_parts(copy.message_type.into(), &bytes).unwrap();
    let sender = verify_device(sender).unwrap();
    let (_, plaintext) = device
        .accept(sender.curve25519, as_pre_key(&message).unwrap())
        .unwrap();
    String::from_utf8(plaintext).unwrap()
}

async fn open_secret(connection: &Connection, username: &str) -> Conversation {
    let opened: results::OneConversation = connection
        .request(RequestBody::OpenSecret(requests::OpenSecret {
            username: username.into(),
        }))
        .await
        .unwrap();
    opened.conversation
}

fn send_sealed_body(
    conversation_id: ConversationId,
    client_id: ClientMsgId,
    sealed: Sealed,
) -> RequestBody {
    RequestBody::SendSealed(requests::SendSealed {
        conversation_id,
        client_id,
        sealed,
        expires_in_secs: None,
    })
}

/// A session from `from` to each of `to`'s devices, on keys claimed through the server.
async fn sessions_to(
    connection: &Connection,
    from: &Device,
    to: &str,
) -> Vec<(String, vodozemac::olm::Session)> {
    let devices = devices_of(connection, to).await;
    let ids: Vec<&str> = devices.iter().map(DeviceKeys::id).collect();
    let claimed = claim(connection, &ids).await;
    claimed
        .keys
        .iter()
        .map(|claimed| {
            let device = verify_device(&claimed.device).unwrap();
            let key = device.verify_key(KeyKind::OneTime, &claimed.key).unwrap();
            (
                claimed.device.curve25519.clone(),
                from.start_session(&device, key).unwrap(),
            )
        })
        .collect()
}

async fn sealed_messages_reach_every_device_and_the_server_never_holds_the_text(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob_token = register(&server.url(), "bob").await;
    let bob = connect(&server.url(), &bob_token).await;
    let mut laptop = Device::new("alice");
    let (mut phone, mut tablet) = (Device::new("bob"), Device::new("bob"));
    publish(&alice, laptop.keys(), laptop.one_time_keys(1), None)
        .await
        .unwrap();
    for device in [&mut phone, &mut tablet] {
        let keys = device.one_time_keys(1);
        publish(&bob, device.keys(), keys, None).await.unwrap();
    }
    let (_bob_session, mut bob_events) = session(&server.url(), &bob_token, &db.path("bob"));
    caught_up(&mut bob_events).await;

    let secret = open_secret(&alice, "bob").await;
    assert!(secret.secret && secret.kind == ConversationKind::Direct);
    assert_ne!(
        secret.id,
        open_direct(&alice, "bob").await,
        "apart from the plain one"
    );
    assert_eq!(
        open_secret(&bob, "alice").await.id,
        secret.id,
        "one per pair"
    );

    let text = format!("the vault code is {}", uuid::Uuid::new_v4());
    let copies = sessions_to(&alice, &laptop, "bob")
        .await
        .iter_mut()
        .map(|(device, session)| seal(session, device, &text))
        .collect();
    let sealed = Sealed {
        sender_device: laptop.keys().curve25519,
        copies,
    };
    let client_id = ClientMsgId::random();
    let sent: results::Sent = alice
        .request(send_sealed_body(secret.id, client_id, sealed.clone()))
        .await
        .unwrap();
    assert!(sent.message.text.is_empty() && !sent.duplicate);
    let again: results::Sent = alice
        .request(send_sealed_body(secret.id, client_id, sealed.clone()))
        .await
        .unwrap();
    assert!(again.duplicate && again.message.id == sent.message.id);

    let heard = next_matching(&mut bob_events, |e| match e {
        SessionEvent::Event {
            event: Event::Message { message },
            ..
        } if message.conversation_id == secret.id => Some(message),
        _ => None,
    })
    .await;
    let heard = heard.sealed.expect("sealed");
    let alices = laptop.keys();
    for device in [&mut phone, &mut tablet] {
        let copy = heard
            .copy_for(&device.keys().curve25519)
            .expect("a copy for each device");
        assert_eq!(open_first(device, &alices, copy), text);
    }
    let page: results::History = bob
        .request(RequestBody::History(requests::History {
            conversation_id: secret.id,
            before: None,
            limit: 10,
        }))
        .await
        .unwrap();
    assert_eq!(page.messages[0].sealed.as_deref(), Some(&sealed));
    server.stop().await;

    let holding = files_containing(&db.server_files(), text.as_bytes());
    assert!(holding.is_empty(), "the text in the clear in {holding:?}");
    // The check must see what the server wrote, or finding nothing would prove nothing. On
    // PostgreSQL the bytes are in the WAL, where a page header may cut a record anywhere:
    // any one of a few pieces of the ciphertext found is enough.
    let sealed_body = sealed.copies[0].body.as_bytes();
    let files = db.server_files();
    let seen = sealed_body
        .chunks(24)
        .filter(|piece| piece.len() == 24)
        .take(8)
        .any(|piece| !files_containing(&files, piece).is_empty());
    assert!(seen, "the check can see what the server wrote");
}

async fn secret_conversations_take_only_sealed_messages_for_their_members_devices(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let carol = connect(&server.url(), &register(&server.url(), "carol").await).await;
    let laptop = Device::new("alice");
    let mut phone = Device::new("bob");
    let mut carols = Device::new("carol");
    publish(&alice, laptop.keys(), vec![], None).await.unwrap();
    publish(&bob, phone.keys(), phone.one_time_keys(1), None)
        .await
        .unwrap();
    publish(&carol, carols.keys(), carols.one_time_keys(1), None)
        .await
        .unwrap();
    let secret = open_secret(&alice, "bob").await.id;
    let plain = open_direct(&alice, "bob").await;

    let code = |result: Result<serde_json::Value, RequestError>| match result {
        Err(RequestError::Api(error)) => (error.code, error.message),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let (found, message) = code(
        alice
            .request_value(RequestBody::Send(requests::Send {
                conversation_id: secret,
                client_id: ClientMsgId::random(),
                text: "in the clear".into(),
                reply_to: None,
                file: None,
            }))
            .await,
    );
    assert_eq!(found, ErrorCode::InvalidArgument);
    assert!(message.contains("is secret"), "{message}");

    let mut to_phone = sessions_to(&alice, &laptop, "bob").await.remove(0).1;
    let mut to_carol = sessions_to(&alice, &laptop, "carol").await.remove(0).1;
    let from = laptop.keys().curve25519;
    let sealed = |sender: &str, copies: Vec<SealedCopy>| Sealed {
        sender_device: sender.into(),
        copies,
    };
    let good = sealed(&from, vec![seal(&mut to_phone, phone.keys().id(), "hi")]);
    for (conversation, body, expected) in [
        (plain, good.clone(), "is not secret"),
        (
            secret,
            sealed(phone.keys().id(), good.copies.clone()),
            "is not one of your devices",
        ),
        (
            secret,
            sealed(
                &from,
                vec![seal(&mut to_carol, carols.keys().id(), "hi carol")],
            ),
            "is no device of this conversation's members",
        ),
    ] {
        let (found, message) = code(
            alice
                .request_value(send_sealed_body(conversation, ClientMsgId::random(), body))
                .await,
        );
        assert_eq!(found, ErrorCode::InvalidArgument, "{message}");
        assert!(message.contains(expected), "{message}");
    }
    let (found, _) = code(
        carol
            .request_value(send_sealed_body(
                secret,
                ClientMsgId::random(),
                good.clone(),
            ))
            .await,
    );
    assert_eq!(found, ErrorCode::Forbidden, "an outsider cannot post there");

    let sent: results::Sent = alice
        .request(send_sealed_body(secret, ClientMsgId::random(), good))
        .await
        .unwrap();
    let id = sent.message.id;
    for (body, expected) in [
        (
            RequestBody::EditMessage(requests::EditMessage {
                message_id: id,
                text: "in the clear".into(),
            }),
            "an edit would put its new text in the clear",
        ),
        (
            RequestBody::React(requests::React {
                message_id: id,
                emoji: "👍".into(),
                remove: false,
            }),
            "a reaction would be readable by the server",
        ),
    ] {
        let (found, message) = code(alice.request_value(body).await);
        assert_eq!(found, ErrorCode::InvalidArgument);
        assert!(message.contains(expected), "{message}");
    }
    let deleted: results::OneMessage = alice
        .request(RequestBody::DeleteMessage(requests::DeleteMessage {
            message_id: id,
        }))
        .await
        .unwrap();
    assert!(deleted.message.deleted && deleted.message.sealed.is_none());
    server.stop().await;
}

on_each_backend!(
    sealed_messages_reach_every_device_and_the_server_never_holds_the_text,
    secret_conversations_take_only_sealed_messages_for_their_members_devices,
);

/// The texts of the next `count` messages of `conversation` a session hands on, as it reads
/// them (an unreadable one as "unreadable: WHY").
async fn next_texts(
    events: &mut tokio::sync::mpsc::Receiver<SessionEvent>,
    conversation: ConversationId,
    count: usize,
) -> Vec<String> {
    let mut texts = Vec::new();
    while texts.len() < count {
        texts.push(
            next_matching(events, |e| match e {
                SessionEvent::Event {
                    event: Event::Message { message },
                    ..
                } if message.conversation_id == conversation => Some(match message.unreadable {
                    Some(why) => format!("unreadable: {why}"),
                    None => message.text,
                }),
                _ => None,
            })
            .await,
        );
    }
    texts
}

async fn an_offline_device_reads_200_messages_and_a_replay_after_a_crash_decrypts_nothing_twice(
    db: TestDb,
) {
    // Sealing a message takes three requests; the default limit (20 a second) would make
    // this test wait out the limiter for half a minute.
    let config = quid::server::ServerConfig {
        rate_per_second: std::num::NonZeroU32::new(10_000).unwrap(),
        ..quid::server::ServerConfig::default()
    };
    let server = TestServer::start_with(&db, config).await;
    let alice_token = register(&server.url(), "alice").await;
    let bob_token = register(&server.url(), "bob").await;
    // Bob's device is published as his session connects; then he goes offline.
    let (bob, mut bob_events) = secret_session(&server.url(), &bob_token, &db.path("bob"));
    caught_up(&mut bob_events).await;
    drop((bob, bob_events));

    let (alice, mut alice_events) = secret_session(&server.url(), &alice_token, &db.path("alice"));
    caught_up(&mut alice_events).await;
    let opened: results::OneConversation = alice
        .request(RequestBody::OpenSecret(requests::OpenSecret {
            username: "bob".into(),
        }))
        .await
        .unwrap();
    let conversation = opened.conversation.id;
    let expected: Vec<String> = (1..=200).map(|n| format!("message {n} of 200")).collect();
    for text in &expected {
        alice
            .send_secret(
                conversation,
                ClientMsgId::random(),
                "bob".into(),
                text.clone(),
            )
            .await
            .unwrap();
    }

    let (bob, mut bob_events) = secret_session(&server.url(), &bob_token, &db.path("bob"));
    assert_eq!(
        next_texts(&mut bob_events, conversation, 200).await,
        expected
    );
    drop((bob, bob_events));
    // As if bob had been killed after reading them but before storing how far he got: the
    // events come again, and the store answers; decrypting again would fail (the message
    // keys are spent), so each text here was decrypted once.
    let state = quid::session::state::ClientState::open(&db.path("bob")).unwrap();
    state.set_last_seq(quid::protocol::Seq(0)).unwrap();
    state.forget_positions(&[conversation]).unwrap();
    drop(state);
    let (_bob, mut bob_events) = secret_session(&server.url(), &bob_token, &db.path("bob"));
    assert_eq!(
        next_texts(&mut bob_events, conversation, 200).await,
        expected
    );
    server.stop().await;
}

on_each_backend!(
    an_offline_device_reads_200_messages_and_a_replay_after_a_crash_decrypts_nothing_twice
);

async fn a_secret_message_written_offline_waits_encrypted_and_is_sent_once_back(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    let bob_token = register(&server.url(), "bob").await;
    let (_bob, mut bob_events) = secret_session(&server.url(), &bob_token, &db.path("bob"));
    caught_up(&mut bob_events).await;
    let proxy = crate::common::proxy::Proxy::start(server.addr).await;
    let alice_dir = db.path("alice");
    let conversation = {
        let (alice, mut events) = secret_session(&proxy.url(), &alice_token, &alice_dir);
        caught_up(&mut events).await;
        let beside = connect(&server.url(), &alice_token).await;
        let conversation = open_secret(&beside, "bob").await.id;
        proxy.cut();
        next_matching(&mut events, |e| {
            matches!(e, SessionEvent::Disconnected { .. }).then_some(())
        })
        .await;
        let held = alice
            .send_secret(
                conversation,
                ClientMsgId::random(),
                "bob".into(),
                "one".into(),
            )
            .await
            .unwrap();
        assert_eq!(held, None, "offline: held, not refused");
        conversation
    };
    // Quit while offline, and start again still offline: the store holds it, and the next
    // one joins it.
    let (alice, mut events) = secret_session(&proxy.url(), &alice_token, &alice_dir);
    let second = ClientMsgId::random();
    let held = alice
        .send_secret(conversation, second, "bob".into(), "two".into())
        .await
        .unwrap();
    assert_eq!(held, None);
    proxy.restore();
    let mut sent = Vec::new();
    while sent.len() < 2 {
        let (id, text) = next_matching(&mut events, |e| match e {
            SessionEvent::Sent { client_id, message } => Some((client_id, message.text)),
            _ => None,
        })
        .await;
        sent.push(text);
        if sent.len() == 2 {
            assert_eq!(id, second, "the queued entry is confirmed by its own id");
        }
    }
    assert_eq!(sent, ["one", "two"]);
    assert_eq!(
        next_texts(&mut bob_events, conversation, 2).await,
        ["one", "two"]
    );
    server.stop().await;
}

on_each_backend!(a_secret_message_written_offline_waits_encrypted_and_is_sent_once_back);

async fn a_memo_in_a_secret_conversation_must_be_a_sealed_reference(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    register(&server.url(), "bob").await;
    mint(&db, "alice", eur(1_000));
    let secret = open_secret(&alice, "bob").await.id;
    let pay = |memo: &str, key: quid::protocol::payments::IdempotencyKey| {
        RequestBody::Pay(requests::Pay {
            to: "bob".into(),
            amount: eur(100),
            memo: memo.into(),
            conversation_id: Some(secret),
            idempotency_key: key,
            pin: None,
        })
    };
    let key = quid::protocol::payments::IdempotencyKey::random();
    let refused = alice
        .request_value(pay("lunch", key.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, RequestError::Api(e) if e.code == ErrorCode::InvalidArgument
            && e.message.contains("would be readable by the server")),
        "{refused:?}"
    );
    let reference = quid::protocol::payments::sealed_memo_reference(&key);
    let paid: results::Paid = alice.request(pay(&reference, key)).await.unwrap();
    assert_eq!(paid.transfer.memo, reference);
    let unmemoed: results::Paid = alice
        .request(pay("", quid::protocol::payments::IdempotencyKey::random()))
        .await
        .unwrap();
    assert!(unmemoed.transfer.memo.is_empty());
    assert_ledger_ok(&db);
    server.stop().await;
}

on_each_backend!(a_memo_in_a_secret_conversation_must_be_a_sealed_reference);

async fn the_server_deletes_a_disappearing_messages_ciphertext_on_time(db: TestDb) {
    let config = quid::server::ServerConfig {
        expiry_sweep: std::time::Duration::from_millis(50),
        ..quid::server::ServerConfig::default()
    };
    let server = TestServer::start_with(&db, config).await;
    let alice = connect(&server.url(), &register(&server.url(), "alice").await).await;
    let bob = connect(&server.url(), &register(&server.url(), "bob").await).await;
    let laptop = Device::new("alice");
    let mut phone = Device::new("bob");
    publish(&alice, laptop.keys(), vec![], None).await.unwrap();
    publish(&bob, phone.keys(), phone.one_time_keys(1), None)
        .await
        .unwrap();
    let secret = open_secret(&alice, "bob").await.id;
    let mut to_phone = sessions_to(&alice, &laptop, "bob").await.remove(0).1;
    let sealed = Sealed {
        sender_device: laptop.keys().curve25519,
        copies: vec![seal(&mut to_phone, phone.keys().id(), "gone soon")],
    };
    let send = |expires_in_secs| {
        RequestBody::SendSealed(requests::SendSealed {
            conversation_id: secret,
            client_id: ClientMsgId::random(),
            sealed: sealed.clone(),
            expires_in_secs,
        })
    };
    for wrong in [0, quid::protocol::secret::MAX_TIMER_SECS + 1] {
        let refused = alice.request_value(send(Some(wrong))).await.unwrap_err();
        assert!(
            matches!(&refused, RequestError::Api(e) if e.code == ErrorCode::InvalidArgument
                && e.message.contains("expires_in_secs must be 1 to")),
            "{refused:?}"
        );
    }
    let sent: results::Sent = alice.request(send(Some(1))).await.unwrap();
    let expires_at = sent
        .message
        .expires_at
        .expect("a disappearing message says when");
    assert_eq!(expires_at.0 - sent.message.sent_at.0, 1_000);

    // The sweep runs every 50 ms; once the second has passed the ciphertext is gone.
    let history = || async {
        let mut page: results::History = bob
            .request(RequestBody::History(requests::History {
                conversation_id: secret,
                before: None,
                limit: 10,
            }))
            .await
            .unwrap();
        page.messages.remove(0)
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    let gone = loop {
        let message = history().await;
        if message.deleted {
            break message;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still there: {message:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(gone.sealed.is_none() && gone.text.is_empty(), "{gone:?}");
    assert!(
        quid::protocol::TimestampMs::now() >= expires_at,
        "not before its time"
    );
    server.stop().await;
}

on_each_backend!(the_server_deletes_a_disappearing_messages_ciphertext_on_time);

async fn a_merchant_bot_takes_an_order_in_a_secret_conversation_and_its_invoice_is_paid(
    db: TestDb,
) {
    let server = TestServer::start(&db).await;
    let alice_token = register(&server.url(), "alice").await;
    mint(&db, "alice", eur(2_000));
    let coffee_token = create_bot(&db, "coffee", Some("Quid Coffee"));
    let bot = quid::bot::Bot::connect(server.url(), coffee_token, db.path("coffee")).unwrap();
    let shop = tokio::spawn(quid::bot::coffee_shop::run(bot));
    let (alice, mut events) = secret_session(&server.url(), &alice_token, &db.path("alice"));
    caught_up(&mut events).await;
    let connection = connect(&server.url(), &alice_token).await;
    // The bot publishes its device as it connects.
    let deadline = std::time::Instant::now() + PATIENCE;
    while devices_of(&connection, "coffee").await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the bot has no device"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let conversation = open_secret(&connection, "coffee").await.id;
    alice
        .send_secret(
            conversation,
            ClientMsgId::random(),
            "coffee".into(),
            "2 latte 1 croissant".into(),
        )
        .await
        .unwrap();
    let invoice = next_matching(&mut events, |e| match e {
        SessionEvent::Event {
            event: Event::Message { message },
            ..
        } if message.conversation_id == conversation => match message.card.as_deref() {
            Some(quid::protocol::payments::Card::Invoice { invoice }) => Some(invoice.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(invoice.total, eur(980));
    let _: results::Paid = connection
        .request(RequestBody::PayInvoice(requests::PayInvoice {
            invoice_id: invoice.id,
            idempotency_key: quid::protocol::payments::IdempotencyKey::random(),
            pin: None,
        }))
        .await
        .unwrap();
    let thanks = next_matching(&mut events, |e| match e {
        SessionEvent::Event {
            event: Event::Message { message },
            ..
        } if message.conversation_id == conversation && message.text.starts_with("Thank you") => {
            Some(message)
        }
        _ => None,
    })
    .await;
    assert!(
        thanks.sealed.is_some(),
        "the bot answers sealed: {thanks:?}"
    );
    shop.abort();
    drop(alice);
    server.stop().await;
    assert_ledger_ok(&db);
}

on_each_backend!(a_merchant_bot_takes_an_order_in_a_secret_conversation_and_its_invoice_is_paid);
