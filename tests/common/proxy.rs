//! A TCP proxy in front of the server that a test can cut: every proxied connection dies at
//! once and new ones are refused until `restore`. This is how a client gets "cut off".

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use url::Url;

pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    up: AtomicBool,
    links: Mutex<Vec<AbortHandle>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            up: AtomicBool::new(true),
            links: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.up.load(Ordering::SeqCst) {
                    continue; // Dropping the socket refuses the connection.
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accepting.links.lock().unwrap().push(link.abort_handle());
            }
        });
        Proxy { addr, shared }
    }

    pub fn url(&self) -> Url {
        Url::parse(&format!("ws://{}", self.addr)).unwrap()
    }

    /// Kills every open link and refuses new ones.
    pub fn cut(&self) {
        self.shared.up.store(false, Ordering::SeqCst);
        for link in self.shared.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn restore(&self) {
        self.shared.up.store(true, Ordering::SeqCst);
    }
}

/// A TCP load balancer in front of several nodes, as a deployment puts one: each new
/// connection goes to the next node in turn, or past it to the first that accepts, so a dead
/// node's clients land on a live one when they reconnect.
pub struct Balancer {
    pub addr: SocketAddr,
}

impl Balancer {
    pub async fn start(nodes: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut next = 0;
            while let Ok((mut client, _)) = listener.accept().await {
                let order: Vec<SocketAddr> = (0..nodes.len())
                    .map(|i| nodes[(next + i) % nodes.len()])
                    .collect();
                next += 1;
                tokio::spawn(async move {
                    for node in order {
                        if let Ok(mut server) = TcpStream::connect(node).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            return;
                        }
                    }
                });
            }
        });
        Balancer { addr }
    }

    pub fn url(&self) -> Url {
        Url::parse(&format!("ws://{}", self.addr)).unwrap()
    }
}
