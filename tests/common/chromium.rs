//! A real browser for the end-to-end tests: the distribution's headless Chromium, driven over
//! the DevTools protocol (a websocket, JSON commands) with the websocket client quid already
//! has. Enough to open a page, read it, and click an element with the mouse.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Longest wait for a page to show something.
const PATIENCE: Duration = Duration::from_secs(30);

/// A headless Chromium with its own profile; killed on drop.
pub struct Chromium {
    child: Child,
    /// `127.0.0.1:PORT` of its DevTools endpoint.
    devtools: String,
    _profile: tempfile::TempDir,
}

/// The binary, if the distribution's package is installed.
fn binary() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok())
}

impl Chromium {
    /// Starts Chromium, or says why not and returns `None` (the caller skips its test).
    pub fn start() -> Option<Chromium> {
        let Some(binary) = binary() else {
            eprintln!("SKIPPED: chromium is not installed (.ci/run installs it)");
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        // The flags of this machine's notes: no sandbox as root, and no background traffic
        // to hosts a closed network refuses.
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let devtools = loop {
            let line = lines
                .next()
                .expect("chromium says where DevTools listens")
                .unwrap();
            if let Some(url) = line.strip_prefix("DevTools listening on ws://") {
                break url.split('/').next().unwrap().to_owned();
            }
        };
        // Keep reading its chatter so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Some(Chromium {
            child,
            devtools,
            _profile: profile,
        })
    }

    /// Opens `url` in a new tab and connects to it.
    pub async fn open(&self, url: &str) -> Page {
        let endpoint = format!("http://{}/json/new?{url}", self.devtools);
        let target: Value = tokio::task::spawn_blocking(move || {
            ureq::put(&endpoint)
                .send_empty()
                .unwrap()
                .body_mut()
                .read_json()
                .unwrap()
        })
        .await
        .unwrap();
        let socket_url = target["webSocketDebuggerUrl"].as_str().unwrap().to_owned();
        let (socket, _) = tokio_tungstenite::connect_async(socket_url).await.unwrap();
        Page { socket, next_id: 0 }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One tab.
pub struct Page {
    socket: Socket,
    next_id: u64,
}

impl Page {
    /// Sends a DevTools command and returns its result.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let command = json!({"id": id, "method": method, "params": params});
        self.socket
            .send(Message::text(command.to_string()))
            .await
            .unwrap();
        loop {
            let frame = self.socket.next().await.expect("DevTools open").unwrap();
            let Message::Text(text) = frame else { continue };
            let reply: Value = serde_json::from_str(&text).unwrap();
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method} failed: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let params = json!({"expression": expression, "returnByValue": true});
        self.call("Runtime.evaluate", params).await["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page (pages load and navigate on their own time).
    pub async fn wait_for(&mut self, what: &str, expression: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.eval(expression).await != Value::Bool(true) {
            let body = self
                .eval("document.body ? document.body.innerText : ''")
                .await;
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; page: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the middle of the element `selector` finds with the mouse, as a person would.
    pub async fn click(&mut self, selector: &str) {
        let rect = self
            .eval(&format!(
                "(() => {{ const r = document.querySelector({selector:?}).getBoundingClientRect(); \
                 return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
            ))
            .await;
        let (x, y) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            let event = json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1});
            self.call("Input.dispatchMouseEvent", event).await;
        }
    }
}
