//! The bytes under a connection: TCP, or TLS over it, then the HTTP request head, read here so
//! that plain HTTP endpoints (`/healthz`, `/metrics`) share the port with the websocket at
//! `/v1`. What was read of the head is handed back to the websocket handshake unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Largest HTTP request head accepted; a websocket upgrade with a token is well under 2 KiB.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

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

/// The request line's path, the Authorization header, and the bytes read so far (the head,
/// perhaps more).
pub struct Head {
    pub path: String,
    pub authorization: Option<String>,
    pub bytes: Vec<u8>,
}

/// Reads until the end of the HTTP request head. Fails on a head over [`MAX_HEAD_BYTES`],
/// on bytes that are not HTTP, or when the peer closes first.
pub async fn read_head(stream: &mut Stream) -> io::Result<Head> {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        bytes.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&bytes) {
            Ok(httparse::Status::Complete(_)) => {
                let path = request.path.unwrap_or("/").to_owned();
                let authorization = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("authorization"))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned());
                return Ok(Head {
                    path,
                    authorization,
                    bytes,
                });
            }
            Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD_BYTES => {}
            Ok(httparse::Status::Partial) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request head too large",
                ));
            }
            Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
        }
    }
}

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
    use tokio::io::AsyncWriteExt;

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
        assert_eq!(head.authorization.as_deref(), Some("Bearer t0k"));
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
        let (client, server) = tokio::io::duplex(MAX_HEAD_BYTES * 2);
        let mut server: Stream = Box::new(server);
        let mut client = client;
        let mut flood = b"GET / HTTP/1.1\r\n".to_vec();
        flood.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES + 10));
        client.write_all(&flood).await.unwrap();
        let error = read_head(&mut server).await.err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
