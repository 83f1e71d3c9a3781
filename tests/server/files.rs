//! Files over HTTP on the server's port, on both backends: up and down byte for byte, only to
//! the members of a conversation that carries them, a cut upload resumed, the limits and the
//! quota refused with their codes, names cleaned and downloads never rendered.

use crate::common::*;
use quid::protocol::files::{FileRef, NewUpload, UploadState};
use quid::protocol::requests;
use quid::protocol::{ClientMsgId, ConversationId, ErrorCode, RequestBody, results};
use quid::server::ServerConfig;
use quid::session::connection::{Connection, RequestError};
use quid::session::files::{FileError, Files};
use std::path::Path;

/// `size` bytes that repeat nowhere within them, written to `path`.
fn random_file(path: &Path, size: usize) -> Vec<u8> {
    let bytes: Vec<u8> = (0..size).map(|_| rand::random::<u8>()).collect();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

fn refused_code(error: FileError) -> ErrorCode {
    match error {
        FileError::Refused(error) => error.code,
        other => panic!("expected a refusal, got {other}"),
    }
}

async fn send_file(
    connection: &Connection,
    conversation_id: ConversationId,
    file: &FileRef,
    caption: &str,
) -> Result<results::Sent, RequestError> {
    connection
        .request(RequestBody::Send(requests::Send {
            conversation_id,
            client_id: ClientMsgId::random(),
            text: caption.into(),
            reply_to: None,
            file: Some(file.id.clone()),
        }))
        .await
}

async fn a_file_goes_up_and_down_byte_for_byte_and_only_to_members(db: TestDb) {
    let server = TestServer::start(&db).await;
    let url = server.url();
    let (alice, bob, carol) = (
        register(&url, "alice").await,
        register(&url, "bob").await,
        register(&url, "carol").await,
    );
    let dir = tempfile::tempdir().unwrap();
    let sent = random_file(&dir.path().join("bill.jpg"), 10 * 1024 * 1024);
    let mut seen = Vec::new();
    let file = Files::new(&url, &alice, None)
        .unwrap()
        .upload(&dir.path().join("bill.jpg"), &mut |done, _| seen.push(done))
        .await
        .unwrap();
    assert_eq!(
        (file.name.as_str(), file.size),
        ("bill.jpg", sent.len() as u64)
    );
    assert_eq!(file.media_type, "image/jpeg");
    assert_eq!(seen.last(), Some(&(sent.len() as u64)));

    // Nobody but its uploader may fetch it before a message carries it.
    let into = tempfile::tempdir().unwrap();
    let bob_files = Files::new(&url, &bob, None).unwrap();
    let early = bob_files
        .download(&file, into.path(), None, &mut |_, _| {})
        .await;
    assert_eq!(refused_code(early.unwrap_err()), ErrorCode::NotFound);

    let alice_connection = connect(&url, &alice).await;
    let direct = open_direct(&alice_connection, "bob").await;
    let message = send_file(&alice_connection, direct, &file, "")
        .await
        .unwrap();
    assert_eq!(message.message.file.as_deref(), Some(&file));

    let bob_connection = connect(&url, &bob).await;
    let history: results::History = bob_connection
        .request(RequestBody::History(requests::History {
            conversation_id: direct,
            before: None,
            limit: 10,
        }))
        .await
        .unwrap();
    let carried = history
        .messages
        .last()
        .and_then(|m| m.file.clone())
        .unwrap();
    assert_eq!(*carried, file);
    let asked: results::OneMessage = bob_connection
        .request(RequestBody::GetMessage(requests::GetMessage {
            message_id: message.message.id,
        }))
        .await
        .unwrap();
    assert_eq!(asked.message.file, Some(carried.clone()));
    let saved = bob_files
        .download(&carried, into.path(), None, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(saved, into.path().join("bill.jpg"));
    assert!(std::fs::read(&saved).unwrap() == sent, "the bytes differ");
    // A second download does not replace the first.
    let again = bob_files
        .download(&carried, into.path(), None, &mut |_, _| {})
        .await;
    assert_eq!(again.unwrap(), into.path().join("bill (1).jpg"));

    // Carol is in no conversation that carries it: for her it does not exist, and she cannot
    // send it on either.
    let carol_files = Files::new(&url, &carol, None).unwrap();
    let stranger = carol_files
        .download(&file, into.path(), None, &mut |_, _| {})
        .await;
    assert_eq!(refused_code(stranger.unwrap_err()), ErrorCode::NotFound);
    let carol_connection = connect(&url, &carol).await;
    let not_hers = carol_connection
        .request::<results::OneMessage>(RequestBody::GetMessage(requests::GetMessage {
            message_id: message.message.id,
        }))
        .await;
    match not_hers {
        Err(RequestError::Api(error)) => assert_eq!(error.code, ErrorCode::NotFound),
        other => panic!("carol read a message of a conversation she is not in: {other:?}"),
    }
    let to_alice = open_direct(&carol_connection, "alice").await;
    let forwarded = send_file(&carol_connection, to_alice, &file, "look").await;
    match forwarded {
        Err(RequestError::Api(error)) => assert_eq!(error.code, ErrorCode::NotFound),
        other => panic!("carol sent a file she cannot read: {other:?}"),
    }
    server.stop().await;
}

/// Sends the head of a PUT for the whole upload and only `part` of its bytes, then hangs up.
async fn cut_upload(server: &TestServer, token: &str, state: &UploadState, part: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PUT /v1/files/uploads/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Range: bytes 0-{}/{}\r\nContent-Length: {}\r\n\r\n",
        state.upload,
        state.size - 1,
        state.size,
        state.size
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(part).await.unwrap();
    tcp.shutdown().await.unwrap();
}

async fn a_cut_upload_resumes_where_it_stopped(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = register(&server.url(), "alice").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("video.mp4");
    let bytes = random_file(&path, 3 * 1024 * 1024 + 17);
    let files = Files::new(&server.url(), &alice, None).unwrap();
    let begun = files
        .begin(&NewUpload {
            name: "video.mp4".into(),
            size: bytes.len() as u64,
            media_type: "video/mp4".into(),
        })
        .await
        .unwrap();
    let half = bytes.len() / 2;
    cut_upload(&server, &alice, &begun, &bytes[..half]).await;
    // The server keeps every byte that reached it; it says so once it has seen the cut.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let stands = loop {
        let stands = files.status(&begun).await.unwrap();
        if stands.received == half as u64 || tokio::time::Instant::now() > deadline {
            break stands;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(stands.received, half as u64);
    // A piece that does not start where the upload stands is refused, and changes nothing.
    let overlapping = format!(
        "PUT /v1/files/uploads/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n\
         Content-Range: bytes 0-9/{}\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
        begun.upload, begun.size
    );
    let answer = exchange(&server, &overlapping).await;
    assert!(answer.starts_with("HTTP/1.1 409"), "{answer}");
    assert!(
        answer.contains(&format!("send the rest from byte {half}")),
        "{answer}"
    );
    assert_eq!(files.status(&begun).await.unwrap().received, half as u64);
    let file = files
        .send_from(stands, &path, &mut |_, _| {})
        .await
        .unwrap();
    let digest = sha256_hex(&bytes);
    assert_eq!(file.sha256, digest);
    let into = tempfile::tempdir().unwrap();
    let saved = files
        .download(&file, into.path(), None, &mut |_, _| {})
        .await
        .unwrap();
    assert!(std::fs::read(saved).unwrap() == bytes, "the bytes differ");
    server.stop().await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn limits_and_the_quota_are_refused_with_their_codes_and_store_nothing(db: TestDb) {
    let config = ServerConfig {
        max_file_bytes: 1000,
        file_quota_bytes: 1500,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&db, config).await;
    let alice = register(&server.url(), "alice").await;
    let files = Files::new(&server.url(), &alice, None).unwrap();
    let asking = |size: u64| NewUpload {
        name: "a.bin".into(),
        size,
        media_type: "application/octet-stream".into(),
    };
    let too_large = files.begin(&asking(1001)).await.unwrap_err();
    assert_eq!(refused_code(too_large), ErrorCode::FileTooLarge);
    files.begin(&asking(800)).await.unwrap();
    let over_quota = files.begin(&asking(701)).await.unwrap_err();
    assert_eq!(refused_code(over_quota), ErrorCode::QuotaExceeded);
    // What was refused holds nothing: exactly the rest of the quota is still free.
    files.begin(&asking(700)).await.unwrap();
    server.stop().await;
}

async fn names_are_cleaned_and_a_download_is_never_a_page(db: TestDb) {
    let server = TestServer::start(&db).await;
    let alice = register(&server.url(), "alice").await;
    let files = Files::new(&server.url(), &alice, None).unwrap();
    let page = b"<html><script>document.title='ran'</script></html>";
    let begun = files
        .begin(&NewUpload {
            name: "../../etc/\u{1b}[31mpasswd\u{202e}lmth.html".into(),
            size: page.len() as u64,
            media_type: "text/html".into(),
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page");
    std::fs::write(&path, page).unwrap();
    let file = files.send_from(begun, &path, &mut |_, _| {}).await.unwrap();
    assert_eq!(file.name, "[31mpasswdlmth.html");

    let answer = raw_get(&server, &alice, &format!("/v1/files/{}", file.id)).await;
    let head = answer
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "content-disposition: attachment; filename=\"[31mpasswdlmth.html\"",
        "x-content-type-options: nosniff",
        "content-security-policy: default-src 'none'; sandbox",
    ] {
        assert!(head.contains(header), "{header:?} missing in:\n{head}");
    }
    assert!(
        answer.ends_with(std::str::from_utf8(page).unwrap()),
        "{answer}"
    );
    server.stop().await;
}

/// The whole answer to a GET of `path` with `token`, the connection closed after it.
async fn raw_get(server: &TestServer, token: &str, path: &str) -> String {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    exchange(server, &request).await
}

/// Writes `request` (which asks for the connection to close) and reads the whole answer.
async fn exchange(server: &TestServer, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    answer
}

/// What a day forgets: a file no message carries and an upload never finished go, bytes and
/// all, and stop counting against the quota; a file a message carries stays.
async fn what_no_message_carries_is_swept_away(db: TestDb) {
    let server = TestServer::start(&db).await;
    let url = server.url();
    let alice = register(&url, "alice").await;
    register(&url, "bob").await;
    let dir = tempfile::tempdir().unwrap();
    let files = Files::new(&url, &alice, None).unwrap();
    let upload = |name: &str| {
        let path = dir.path().join(name);
        random_file(&path, 5000);
        let files = files.clone();
        async move { files.upload(&path, &mut |_, _| {}).await.unwrap() }
    };
    let (kept, forgotten) = (upload("kept.bin").await, upload("forgotten.bin").await);
    let unfinished = files
        .begin(&NewUpload {
            name: "never.bin".into(),
            size: 10,
            media_type: "application/octet-stream".into(),
        })
        .await
        .unwrap();
    let connection = connect(&url, &alice).await;
    let direct = open_direct(&connection, "bob").await;
    send_file(&connection, direct, &kept, "").await.unwrap();

    let location = db.location();
    let swept = off_async(move || {
        let store = quid::store::Store::open(&location).unwrap();
        // As the sweep will see them a day and a moment from now.
        let later = quid::protocol::TimestampMs::now().0 + quid::store::files::FORGOTTEN_AFTER_MS;
        store
            .write_once(|ctx| {
                quid::store::files::sweep(ctx, quid::protocol::TimestampMs(later + 1000))
            })
            .unwrap()
    });
    assert_eq!(swept, (1, 1), "one file and one upload");
    let into = tempfile::tempdir().unwrap();
    let gone = files
        .download(&forgotten, into.path(), None, &mut |_, _| {})
        .await;
    assert_eq!(refused_code(gone.unwrap_err()), ErrorCode::NotFound);
    assert_eq!(
        refused_code(files.status(&unfinished).await.unwrap_err()),
        ErrorCode::NotFound
    );
    let still = files
        .download(&kept, into.path(), None, &mut |_, _| {})
        .await;
    assert!(still.is_ok(), "{still:?}");
    if let quid::store::location::Location::Sqlite(path) = db.location() {
        let blob = |file: &FileRef| {
            std::path::PathBuf::from(format!("{}.files/sha256/{}", path.display(), file.sha256))
        };
        assert!(blob(&kept).exists(), "the kept file's bytes are on disk");
        assert!(
            !blob(&forgotten).exists(),
            "the forgotten file's bytes are gone"
        );
    }
    server.stop().await;
}

/// A merchant's receipt: a bot sends a file with a caption, and its customer gets it.
async fn a_bot_sends_a_file_its_customer_can_download(db: TestDb) {
    use quid::bot::{Bot, BotEvent};
    let server = TestServer::start(&db).await;
    let url = server.url();
    let (shop, bob) = (register(&url, "shop").await, register(&url, "bob").await);
    let direct = open_direct(&connect(&url, &shop).await, "bob").await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = Bot::connect(url.clone(), shop, dir.path().join("bot")).unwrap();
    tokio::time::timeout(PATIENCE, async {
        while !matches!(bot.next().await, Some(BotEvent::CaughtUp)) {}
    })
    .await
    .expect("the bot caught up");
    let receipt = dir.path().join("receipt.txt");
    let bytes = random_file(&receipt, 3000);
    let sent = bot
        .send_file(direct, &receipt, "your receipt")
        .await
        .unwrap();
    assert_eq!(sent.text, "your receipt");
    let file = sent.file.expect("the message carries the file");
    let into = tempfile::tempdir().unwrap();
    let saved = Files::new(&url, &bob, None)
        .unwrap()
        .download(&file, into.path(), None, &mut |_, _| {})
        .await
        .unwrap();
    assert!(std::fs::read(saved).unwrap() == bytes, "the bytes differ");
    server.stop().await;
}

on_each_backend!(
    a_bot_sends_a_file_its_customer_can_download,
    what_no_message_carries_is_swept_away,
    a_file_goes_up_and_down_byte_for_byte_and_only_to_members,
    a_cut_upload_resumes_where_it_stopped,
    limits_and_the_quota_are_refused_with_their_codes_and_store_nothing,
    names_are_cleaned_and_a_download_is_never_a_page,
);
