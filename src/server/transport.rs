//! The bytes under a connection: TCP, or TLS over it, then the HTTP request head, read here so
//! that plain HTTP endpoints (`/healthz`, `/metrics`) share the port with the websocket at
//! `/v1`. What was read of the head is handed back to the websocket handshake unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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

pub use crate::http::read_head;

/// A stream that first yields bytes already read from it, then reads on.
pub struct Rewind {
    read_ahead: Vec<u8>,
    position: usize,
    inner: Stream,
}

impl Rewind {
    pub fn new(read_ahead: Vec<u8>, inner: Stream) -> Rewind {
        Rewind {
            read_ahead,
            position: 0,
            inner,
        }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.position < self.read_ahead.len() {
            let rest = &self.read_ahead[self.position..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            self.position += n;
            if self.position == self.read_ahead.len() {
                // Give the memory back: the connection may live for days.
                self.read_ahead = Vec::new();
                self.position = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_head_is_read_then_replayed_before_the_rest() {
        let (client, server) = tokio::io::duplex(64);
        let mut server: Stream = Box::new(server);
        let writer = tokio::spawn(async move {
            let mut client = client;
            client
                .write_all(
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nauthorization: Bearer t0k\r\n\r\nafter",
                )
                .await
                .unwrap();
        });
        let head = read_head(&mut server).await.unwrap();
        assert_eq!(head.path, "/healthz");
        assert_eq!(head.header("Authorization"), Some("Bearer t0k"));
        writer.await.unwrap();
        let mut replayed = String::new();
        Rewind::new(head.bytes, server)
            .read_to_string(&mut replayed)
            .await
            .unwrap();
        assert!(replayed.starts_with("GET /healthz HTTP/1.1\r\n"));
        assert!(replayed.ends_with("\r\n\r\nafter"));
    }

    #[tokio::test]
    async fn a_head_that_never_ends_is_refused_at_the_limit() {
        let (client, server) = tokio::io::duplex(crate::http::MAX_HEAD_BYTES * 2);
        let mut server: Stream = Box::new(server);
        let mut client = client;
        let mut flood = b"GET / HTTP/1.1\r\n".to_vec();
        flood.extend(std::iter::repeat_n(b'a', crate::http::MAX_HEAD_BYTES + 10));
        client.write_all(&flood).await.unwrap();
        let error = read_head(&mut server).await.err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
