//! HTTP/1.1 for quid's own listeners (the server's port, `--metrics-listen`, the sandbox
//! partner), on `hyper`: one way to serve a connection, with the same limits everywhere, a
//! request body read whole up to a limit, and whole responses.

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Largest request head accepted (431 past it); a websocket upgrade with a token is well
/// under 2 KiB.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// A response's body: whole ([`respond`]), or streamed a piece at a time (a download).
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Serves HTTP/1.1 on `io` with `service` until the peer closes, the connection is upgraded
/// (a websocket: `hyper::upgrade::on` hands the bytes over), or a request's head is not
/// complete within `head_timeout` of when it was due. Keep-alive is on: a client may send
/// one request after another.
pub async fn serve<I, S>(io: I, head_timeout: Duration, service: S) -> hyper::Result<()>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Body>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send,
{
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await
}

/// A whole response that is never cached: every answer here is about now.
pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let whole = Full::new(body.into()).map_err(|never| match never {});
    let mut response = Response::new(whole.boxed_unsync());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Why a request's body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is over {0} bytes, the most accepted here")]
    TooLarge(usize),
    #[error("reading the body: {0}")]
    Io(String),
}

/// The request's body, whole, refused past `limit` bytes (whether it says its length or is
/// chunked) before more than that is held.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(BodyError::TooLarge(limit))
        }
        Err(error) => Err(BodyError::Io(error.to_string())),
    }
}

/// The value of header `name`, if present and text.
pub fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves `service` on one end of an in-memory pipe; returns the other.
    fn served<S>(service: S) -> tokio::io::DuplexStream
    where
        S: hyper::service::Service<Request<Incoming>, Response = Response<Body>> + Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        S::Future: Send,
    {
        let (client, server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(serve(server, Duration::from_millis(300), service));
        client
    }

    async fn echo_up_to_16(request: Request<Incoming>) -> Result<Response<Body>, hyper::Error> {
        Ok(match read_body(request.into_body(), 16).await {
            Ok(body) => respond(StatusCode::OK, "text/plain", body),
            Err(error) => respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                error.to_string(),
            ),
        })
    }

    async fn answer(client: &mut tokio::io::DuplexStream) -> String {
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole_and_one_over_it_refused() {
        let mut client = served(hyper::service::service_fn(echo_up_to_16));
        client
            .write_all(b"POST /a HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world")
            .await
            .unwrap();
        client
            .write_all(b"POST /b HTTP/1.1\r\nContent-Length: 17\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        client.write_all(b"seventeen bytes!!").await.unwrap();
        let answers = answer(&mut client).await;
        let (first, second) = answers.split_once("HTTP/1.1 413").expect(&answers);
        assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{answers}");
        assert!(first.ends_with("\r\n\r\nhello world"), "{answers}");
        assert!(second.contains("over 16 bytes"), "{answers}");
    }

    #[tokio::test]
    async fn a_head_over_the_limit_is_refused_and_a_silent_client_dropped() {
        let mut flooding = served(hyper::service::service_fn(echo_up_to_16));
        let mut flood = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        flood.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES + 10));
        flooding.write_all(&flood).await.unwrap();
        assert!(answer(&mut flooding).await.starts_with("HTTP/1.1 431"));

        let mut silent = served(hyper::service::service_fn(echo_up_to_16));
        silent.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        // The head never ends: the connection closes at the timeout with nothing served.
        assert_eq!(answer(&mut silent).await, "");
    }
}
