//! Server memory per idle connection, against a baseline measured in the same run.
//!
//! Starts `quid serve` as a child process, opens N logged-in connections that said hello with
//! `resume_after` (as the TUI does) and then stay idle, and reads the server's resident memory
//! before and after. The baseline is a bare tokio-tungstenite server with the crate's default
//! settings holding the same number of idle websockets: this binary started again as
//! `--bare-server`. Prints both per-connection figures and their ratio.
//!
//!     cargo bench --bench idle_connections            # 1,000 connections
//!     QUID_BENCH_CONNECTIONS=5000 cargo bench --bench idle_connections

use futures_util::{SinkExt, StreamExt};
use quid::protocol::{RequestBody, results};
use quid::session::connection::Connection;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const QUID: &str = env!("CARGO_BIN_EXE_quid");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--bare-server") {
        return bare_server().await;
    }
    let connections: usize = std::env::var("QUID_BENCH_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let bare = measure_bare(connections).await?;
    let quid = measure_quid(connections).await?;
    println!("idle connections: {connections}");
    println!("bare tokio-tungstenite (defaults): {bare:.1} KiB per connection");
    println!("quid serve:                         {quid:.1} KiB per connection");
    println!("ratio quid / bare:                  {:.2}", quid / bare);
    Ok(())
}

/// Resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))?;
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("odd VmRSS line {line:?}"))?
        .parse()?;
    Ok(kib)
}

/// Reads the child's first stdout line and the address in it after `marker`.
fn address_from(child: &mut Child, marker: &str) -> anyhow::Result<String> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    line.split(marker)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("unexpected first line {line:?}"))
}

/// Waits until the server has settled after the connections opened.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

async fn measure_quid(connections: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(QUID)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("server.db"))
        .args(["--max-connections-per-address", "1000000"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let addr = address_from(&mut child, "ws://")?;
    let url = url::Url::parse(&format!("ws://{addr}"))?;
    let (anonymous, _) = Connection::open(&url, None).await?;
    anonymous.hello(None).await?;
    let auth: results::Auth = anonymous
        .request(RequestBody::Register {
            username: "idle".into(),
            password: "correct horse battery".into(),
        })
        .await?;
    drop(anonymous);
    settle().await;
    let before = rss_kib(child.id())?;
    let mut open = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (connection, pushed) = Connection::open(&url, Some(&auth.token)).await?;
        connection.hello(Some(quid::protocol::Seq::ZERO)).await?;
        open.push((connection, pushed));
    }
    settle().await;
    let after = rss_kib(child.id())?;
    child.kill()?;
    child.wait()?;
    Ok((after - before) / connections as f64)
}

async fn measure_bare(connections: usize) -> anyhow::Result<f64> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--bare-server")
        .stdout(Stdio::piped())
        .spawn()?;
    let addr = address_from(&mut child, "listening on ")?;
    settle().await;
    let before = rss_kib(child.id())?;
    let mut open = Vec::with_capacity(connections);
    for _ in 0..connections {
        let request = format!("ws://{addr}/").into_client_request()?;
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        socket.send(Message::text("hello")).await?;
        socket.next().await;
        open.push(socket);
    }
    settle().await;
    let after = rss_kib(child.id())?;
    child.kill()?;
    child.wait()?;
    Ok((after - before) / connections as f64)
}

/// The baseline: accepts websockets with tokio-tungstenite's defaults and echoes.
async fn bare_server() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            let Ok(mut socket) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            while let Some(Ok(message)) = socket.next().await {
                if message.is_text() && socket.send(message).await.is_err() {
                    return;
                }
            }
        });
    }
}
