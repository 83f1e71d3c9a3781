//! The ceiling for fan-out: a bare tokio-tungstenite server that sends every text frame it
//! receives to every connection, with no storage, no parsing and no per-user streams. Nothing
//! quid does can be faster over the same sockets on the same machine.

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

/// Frames buffered per connection before a slow one skips ahead.
const BACKLOG: usize = 16 * 1024;

pub async fn serve() -> anyhow::Result<std::process::ExitCode> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("ceiling listening on ws://{}", listener.local_addr()?);
    let (everyone, _) = broadcast::channel::<Arc<str>>(BACKLOG);
    loop {
        let (tcp, _) = listener.accept().await?;
        let everyone = everyone.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let Ok(socket) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let (mut sink, mut stream) = socket.split();
            let mut inbox = everyone.subscribe();
            let forward = tokio::spawn(async move {
                loop {
                    match inbox.recv().await {
                        Ok(frame) => {
                            if sink.send(Message::text(frame.to_string())).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    let _ = everyone.send(Arc::from(text.as_str()));
                }
            }
            forward.abort();
        });
    }
}
