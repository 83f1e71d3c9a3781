//! A hostile server: it speaks protocol 2 (the real frames, written here by the test) and
//! answers each request as the test's script says, so a test can make it lie in one precise
//! way and assert what the user is shown. Requests the script leaves alone get what an honest
//! server would answer about nothing (no messages, no devices), so a script says only its lie.

use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

/// What the server answers to one request.
pub enum Answer {
    Ok(Value),
    /// The reply, then these frames pushed (events, `caught_up`).
    OkThen(Value, Vec<Value>),
    Error {
        code: &'static str,
        message: String,
    },
}

/// The test's lies: given a request's `type` and whole frame, `Some(answer)` to answer it
/// itself, `None` for the default.
pub type Script = dyn Fn(&str, &Value) -> Option<Answer> + Send + Sync;

pub struct HostileServer {
    pub addr: SocketAddr,
    /// Every request frame received, in order.
    pub requests: Arc<Mutex<Vec<Value>>>,
}

/// How the hostile server refuses or takes the websocket upgrade.
#[derive(Clone)]
pub enum Upgrade {
    Accept,
    /// HTTP 401 with this body (a wrong token, as the server words it).
    Unauthorized(String),
}

impl HostileServer {
    /// Serves `username`'s connections (any token is taken) with `script`.
    pub async fn start(
        username: &str,
        script: impl Fn(&str, &Value) -> Option<Answer> + Send + Sync + 'static,
    ) -> HostileServer {
        Self::start_with(username, Upgrade::Accept, script).await
    }

    pub async fn start_with(
        username: &str,
        upgrade: Upgrade,
        script: impl Fn(&str, &Value) -> Option<Answer> + Send + Sync + 'static,
    ) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let (seen, username) = (Arc::clone(&requests), username.to_owned());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, seen, username) =
                    (Arc::clone(&script), Arc::clone(&seen), username.clone());
                let upgrade = upgrade.clone();
                tokio::spawn(async move {
                    serve(stream, &username, upgrade, &*script, &seen).await;
                });
            }
        });
        HostileServer { addr, requests }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The requests of `kind` received so far.
    pub fn requests_of(&self, kind: &str) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == kind)
            .cloned()
            .collect()
    }
}

// tungstenite's handshake callback dictates the (large) rejection type.
#[allow(clippy::result_large_err)]
async fn serve(
    stream: tokio::net::TcpStream,
    username: &str,
    upgrade: Upgrade,
    script: &Script,
    seen: &Mutex<Vec<Value>>,
) {
    use futures_util::{SinkExt, StreamExt};
    let check = |_: &Request, response: Response| match &upgrade {
        Upgrade::Accept => Ok(response),
        Upgrade::Unauthorized(body) => {
            let mut refusal = ErrorResponse::new(Some(body.clone()));
            *refusal.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::UNAUTHORIZED;
            Err(refusal)
        }
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
        return;
    };
    while let Some(Ok(frame)) = socket.next().await {
        let Frame::Text(text) = frame else { continue };
        let Ok(request) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        seen.lock().unwrap().push(request.clone());
        let kind = request["type"].as_str().unwrap_or_default().to_owned();
        let answer = script(&kind, &request).unwrap_or_else(|| default_answer(&kind, username));
        let (reply, pushed) = match answer {
            Answer::Ok(result) => (ok(&request, result), Vec::new()),
            Answer::OkThen(result, pushed) => (ok(&request, result), pushed),
            Answer::Error { code, message } => (
                json!({"type": "error", "id": request["id"], "code": code, "message": message}),
                Vec::new(),
            ),
        };
        for frame in std::iter::once(reply).chain(pushed) {
            if socket.send(Frame::text(frame.to_string())).await.is_err() {
                return;
            }
        }
    }
}

fn ok(request: &Value, result: Value) -> Value {
    json!({"type": "ok", "id": request["id"], "result": result})
}

/// What an honest server with nothing to say answers.
fn default_answer(kind: &str, username: &str) -> Answer {
    let me = user(2, username);
    Answer::Ok(match kind {
        "hello" => json!({
            "version": 2, "server": "quid/0.1.0", "max_frame_bytes": 65536,
            "user": me, "resume_after": null,
        }),
        "login" | "register" => json!({"user": me, "token": "ab".repeat(32)}),
        "publish_keys" => json!({"one_time_keys": 50}),
        "devices" => json!({"devices": []}),
        "history" => json!({"messages": [], "has_more": false}),
        "conversations" => json!({"conversations": []}),
        "balance" => json!({"balances": []}),
        _ => json!({}),
    })
}

pub fn user(id: i64, username: &str) -> Value {
    json!({"id": id, "username": username})
}

/// A secret direct conversation between `me` and `other`, as `open_secret` answers.
pub fn secret_conversation(id: i64, me: &str, other: &str) -> Value {
    json!({
        "id": id, "kind": "direct", "name": other,
        "members": [user(2, me), user(3, other)],
        "unread": 0, "last_message_id": null, "last_activity": 0, "secret": true,
    })
}

/// A config with one profile, `username`, at `server`; its data dir beside it.
pub fn write_config(dir: &std::path::Path, username: &str, server: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[profiles.{username}]\nserver = \"{server}\"\nusername = \"{username}\"\n\
             data_dir = \"{username}\"\n"
        ),
    )
    .unwrap();
    path
}
