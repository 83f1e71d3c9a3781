//! The little of HTTP/1.1 quid speaks by hand, one request per connection: reading a request
//! head (`httparse`) and a body of known length, and writing a whole response. The server
//! reads heads here so that plain HTTP endpoints and webhooks share its port with the
//! websocket; the sandbox partner serves its API and checkout page with it.

use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request head accepted; a websocket upgrade with a token is well under 2 KiB.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// A request's head, and every byte read so far (the head, perhaps some of the body).
pub struct Head {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Where the head ends in `bytes`.
    pub head_len: usize,
    pub bytes: Vec<u8>,
}

impl Head {
    /// The value of header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without its query string.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("/")
    }
}

/// Reads until the end of the request head. Fails on a head over [`MAX_HEAD_BYTES`], on bytes
/// that are not HTTP, or when the peer closes first.
pub async fn read_head<S: AsyncRead + Unpin + ?Sized>(stream: &mut S) -> io::Result<Head> {
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
            Ok(httparse::Status::Complete(head_len)) => {
                let headers = request
                    .headers
                    .iter()
                    .map(|h| {
                        let value = String::from_utf8_lossy(h.value).into_owned();
                        (h.name.to_owned(), value)
                    })
                    .collect();
                return Ok(Head {
                    method: request.method.unwrap_or("GET").to_owned(),
                    path: request.path.unwrap_or("/").to_owned(),
                    headers,
                    head_len,
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

/// Why a request's body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("a request with a body needs a Content-Length")]
    NoLength,
    #[error("the body is {0} bytes; at most {1} are accepted")]
    TooLarge(usize, usize),
    #[error("reading the body: {0}")]
    Io(#[from] io::Error),
}

/// The request's body: `Content-Length` bytes (none without that header on a GET), at most
/// `limit` of them.
pub async fn read_body<S: AsyncRead + Unpin + ?Sized>(
    stream: &mut S,
    head: &Head,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let length = match head.header("content-length") {
        Some(value) => value
            .trim()
            .parse::<usize>()
            .map_err(|_| BodyError::NoLength)?,
        None if head.method == "GET" || head.method == "HEAD" => 0,
        None => return Err(BodyError::NoLength),
    };
    if length > limit {
        return Err(BodyError::TooLarge(length, limit));
    }
    let mut body = head.bytes[head.head_len..].to_vec();
    body.truncate(length);
    let mut rest = vec![0u8; length - body.len()];
    stream.read_exact(&mut rest).await?;
    body.extend_from_slice(&rest);
    Ok(body)
}

/// Writes a whole response and closes the connection's sending half.
pub async fn respond<S: AsyncWrite + Unpin + ?Sized>(
    stream: &mut S,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_is_read_across_the_head_boundary_and_no_further() {
        let (mut client, mut server) = tokio::io::duplex(256);
        client
            .write_all(b"POST /hook HTTP/1.1\r\nContent-Length: 11\r\nX-Sig: a\r\n\r\nhello")
            .await
            .unwrap();
        let head = read_head(&mut server).await.unwrap();
        assert_eq!((head.method.as_str(), head.route()), ("POST", "/hook"));
        assert_eq!(head.header("x-sig"), Some("a"));
        client.write_all(b" worldEXTRA").await.unwrap();
        let body = read_body(&mut server, &head, 64).await.unwrap();
        assert_eq!(body, b"hello world");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_or_without_a_length_is_refused() {
        let (mut client, mut server) = tokio::io::duplex(256);
        client
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
            .await
            .unwrap();
        let head = read_head(&mut server).await.unwrap();
        let refused = read_body(&mut server, &head, 64).await.unwrap_err();
        assert!(matches!(refused, BodyError::TooLarge(100, 64)), "{refused}");
        let (mut client, mut server) = tokio::io::duplex(256);
        client.write_all(b"POST / HTTP/1.1\r\n\r\n").await.unwrap();
        let head = read_head(&mut server).await.unwrap();
        let refused = read_body(&mut server, &head, 64).await.unwrap_err();
        assert!(matches!(refused, BodyError::NoLength));
    }
}
