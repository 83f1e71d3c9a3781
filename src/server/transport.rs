//! The bytes under a connection: TCP, or TLS over it. HTTP runs on them (`web.rs`).

use std::io;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connection's byte stream, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub type Stream = Box<dyn Io>;

/// Wraps `tcp` in TLS when the server has a certificate.
pub async fn secure(tcp: TcpStream, tls: Option<&tokio_rustls::TlsAcceptor>) -> io::Result<Stream> {
    // Small writes (replies, events) should leave at once rather than wait for more.
    tcp.set_nodelay(true)?;
    Ok(match tls {
        Some(acceptor) => Box::new(acceptor.accept(tcp).await?),
        None => Box::new(tcp),
    })
}
