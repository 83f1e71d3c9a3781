//! Sending and fetching files over HTTP on the server's port (docs/PROTOCOL.md, "Files"): an
//! upload begun, its bytes streamed from the file and, after a cut, resumed from where the
//! server says it stands; a download streamed to a file beside its destination, checked
//! against its digest, and only then given its name, which never replaces another file's.

use crate::protocol::files::{FILES_PATH, FileRef, NewUpload, UploadState, Uploaded};
use crate::protocol::{ApiError, ErrorCode};
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use url::Url;

/// Bytes read from a file per frame of an upload.
const READ_BYTES: usize = 256 * 1024;

/// Times an upload is resumed after a cut before it gives up.
const RESUMES: usize = 5;

/// Why a file did not go or come.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{0}")]
    Refused(ApiError),
    #[error("the download of {name:?} does not match its digest; nothing was kept")]
    Corrupt { name: String },
}

/// A connection's bytes, plain or TLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// A request's body: whole, or streamed from a file.
pub type RequestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// The server's file endpoints, as one session's user.
#[derive(Clone)]
pub struct Files {
    /// `http://HOST:PORT` or `https://...`.
    base: Url,
    token: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Files {
    /// The files of the server at `server` (its ws:// or wss:// URL), as the holder of
    /// `token`; a wss:// server's certificate must chain to `ca_file`'s CAs when given.
    pub fn new(server: &Url, token: &str, ca_file: Option<&Path>) -> Result<Files, FileError> {
        let unreachable = |reason: String| FileError::Unreachable {
            url: server.to_string(),
            reason,
        };
        let mut base = server.clone();
        let (scheme, tls) = match server.scheme() {
            "wss" => (
                "https",
                Some(crate::tls::client_config(ca_file).map_err(|e| unreachable(e.to_string()))?),
            ),
            _ => ("http", None),
        };
        base.set_scheme(scheme)
            .map_err(|()| unreachable("not a ws:// or wss:// address".into()))?;
        base.set_path("");
        Ok(Files {
            base,
            token: token.to_owned(),
            tls,
        })
    }

    /// Uploads the file at `path`, calling `progress(sent, size)` as bytes go; resumes after a
    /// cut. Returns the file, for a message to carry.
    pub async fn upload(
        &self,
        path: &Path,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<FileRef, FileError> {
        let local = |source| FileError::Local {
            path: path.to_owned(),
            source,
        };
        let size = tokio::fs::metadata(path).await.map_err(local)?.len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let asked = NewUpload {
            media_type: media_type_of(path).to_owned(),
            name,
            size,
        };
        let begun: UploadState = self.begin(&asked).await?;
        self.send_from(begun, path, progress).await
    }

    /// `POST /v1/files`: begins an upload.
    pub async fn begin(&self, asked: &NewUpload) -> Result<UploadState, FileError> {
        let body = serde_json::to_vec(asked).map_err(|e| refused_locally(e.to_string()))?;
        let response = self
            .call(Method::POST, FILES_PATH, &[], whole(body))
            .await?;
        answer(response, StatusCode::CREATED).await
    }

    /// Where upload `state.upload` stands on the server.
    pub async fn status(&self, state: &UploadState) -> Result<UploadState, FileError> {
        let path = format!("{FILES_PATH}/uploads/{}", state.upload);
        let response = self.call(Method::GET, &path, &[], empty()).await?;
        answer(response, StatusCode::OK).await
    }

    /// Sends the file at `path` into the upload from where it stands, asking again after each
    /// cut, until the server makes it a file.
    pub async fn send_from(
        &self,
        mut state: UploadState,
        path: &Path,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<FileRef, FileError> {
        let mut cuts = 0;
        loop {
            progress(state.received, state.size);
            match self.put_rest(&state, path).await {
                Ok(file) => {
                    progress(state.size, state.size);
                    return Ok(file);
                }
                Err(FileError::Unreachable { .. }) if cuts < RESUMES => {
                    cuts += 1;
                    state = self.status(&state).await?;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// One `PUT` of the rest of the file, from `state.received` to its end.
    async fn put_rest(&self, state: &UploadState, path: &Path) -> Result<FileRef, FileError> {
        let local = |source| FileError::Local {
            path: path.to_owned(),
            source,
        };
        let mut file = tokio::fs::File::open(path).await.map_err(local)?;
        file.seek(std::io::SeekFrom::Start(state.received))
            .await
            .map_err(local)?;
        let range = match state.size {
            0 => None,
            size => Some(format!("bytes {}-{}/{size}", state.received, size - 1)),
        };
        let headers: Vec<(&str, String)> = range
            .into_iter()
            .map(|range| ("content-range", range))
            .collect();
        let uri = format!("{FILES_PATH}/uploads/{}", state.upload);
        let response = self
            .call(Method::PUT, &uri, &headers, file_body(file))
            .await?;
        let uploaded: Uploaded = answer(response, StatusCode::CREATED).await?;
        Ok(uploaded.file)
    }

    /// Downloads `file` into the folder `folder` under its own name (`name (1).ext` if that
    /// is taken), or to `exactly` when given; the bytes must match its digest. Returns where
    /// it was saved.
    pub async fn download(
        &self,
        file: &FileRef,
        folder: &Path,
        exactly: Option<&Path>,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<PathBuf, FileError> {
        let uri = format!("{FILES_PATH}/{}", file.id);
        let response = self.call(Method::GET, &uri, &[], empty()).await?;
        if response.status() != StatusCode::OK {
            return Err(refusal_of(response).await);
        }
        let partial = folder.join(format!(".{}.part", file.id));
        let written = receive(response.into_body(), &partial, file.size, progress).await;
        let sha256 = match written {
            Ok(sha256) => sha256,
            Err(error) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(error);
            }
        };
        if sha256 != file.sha256 {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(FileError::Corrupt {
                name: file.name.clone(),
            });
        }
        settle(&partial, folder, &file.name, exactly).await
    }

    /// Sends one request on a connection of its own and returns the response's head, its
    /// body still to read.
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: RequestBody,
    ) -> Result<Response<Incoming>, FileError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| self.unreachable(e.to_string()))?;
        let mut request = Request::builder()
            .method(method)
            .uri(url.path())
            .header("host", url.authority())
            .header("authorization", format!("Bearer {}", self.token));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(body)
            .map_err(|e| self.unreachable(e.to_string()))?;
        let mut sender = self.connect().await?;
        sender
            .send_request(request)
            .await
            .map_err(|e| self.unreachable(e.to_string()))
    }

    async fn connect(
        &self,
    ) -> Result<hyper::client::conn::http1::SendRequest<RequestBody>, FileError> {
        let host = self.base.host_str().unwrap_or_default().to_owned();
        let port = self.base.port_or_known_default().unwrap_or(80);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let stream: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| self.unreachable(e.to_string()))?;
                let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
                Box::new(
                    connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| self.unreachable(e.to_string()))?,
                )
            }
        };
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "file connection ended");
            }
        });
        Ok(sender)
    }

    fn unreachable(&self, reason: String) -> FileError {
        FileError::Unreachable {
            url: self.base.to_string(),
            reason,
        }
    }
}

fn refused_locally(message: String) -> FileError {
    FileError::Refused(ApiError::invalid(message))
}

fn whole(bytes: Vec<u8>) -> RequestBody {
    Full::new(Bytes::from(bytes))
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn empty() -> RequestBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// The rest of `file` as a body, read a frame at a time as the connection takes it.
pub fn file_body(file: tokio::fs::File) -> RequestBody {
    let frames = futures_util::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0u8; READ_BYTES];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok(Frame::data(Bytes::from(buffer))), file))
            }
            Err(error) => Some((Err(error), file)),
        }
    });
    StreamBody::new(frames).boxed_unsync()
}

/// The JSON of a response with status `expected`; the server's error otherwise.
async fn answer<T: serde::de::DeserializeOwned>(
    response: Response<Incoming>,
    expected: StatusCode,
) -> Result<T, FileError> {
    if response.status() != expected {
        return Err(refusal_of(response).await);
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| cut(e.to_string()))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| {
        FileError::Refused(ApiError::new(
            ErrorCode::Internal,
            format!("an answer quid cannot read: {e}"),
        ))
    })
}

fn cut(reason: String) -> FileError {
    FileError::Unreachable {
        url: String::new(),
        reason,
    }
}

/// The error a refused request's JSON body holds (`{"error": {"code", "message"}}`).
async fn refusal_of(response: Response<Incoming>) -> FileError {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Wire,
    }
    #[derive(serde::Deserialize)]
    struct Wire {
        code: ErrorCode,
        message: String,
    }
    let status = response.status();
    let Ok(body) = response.into_body().collect().await else {
        return cut(format!("HTTP {status}, and the connection was cut"));
    };
    match serde_json::from_slice::<Body>(&body.to_bytes()) {
        Ok(body) => FileError::Refused(ApiError::new(body.error.code, body.error.message)),
        Err(_) => FileError::Refused(ApiError::new(
            ErrorCode::Internal,
            format!("the server answered HTTP {status}"),
        )),
    }
}

/// Writes a download's body to `partial`, synced; returns its SHA-256.
async fn receive(
    mut body: Incoming,
    partial: &Path,
    size: u64,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<String, FileError> {
    let local = |source| FileError::Local {
        path: partial.to_owned(),
        source,
    };
    let mut out = tokio::fs::File::create(partial).await.map_err(local)?;
    let mut digest = Sha256::new();
    let mut got = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| cut(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            digest.update(&data);
            out.write_all(&data).await.map_err(local)?;
            got += data.len() as u64;
            progress(got, size);
        }
    }
    out.sync_all().await.map_err(local)?;
    Ok(hex::encode(digest.finalize()))
}

/// Gives a checked download its name: `exactly`, or the file's own in `folder`, numbered
/// (`bill (1).jpg`) rather than replace another file.
async fn settle(
    partial: &Path,
    folder: &Path,
    name: &str,
    exactly: Option<&Path>,
) -> Result<PathBuf, FileError> {
    let target = match exactly {
        Some(path) => path.to_owned(),
        None => free_name(folder, &crate::protocol::files::clean_name(name)),
    };
    tokio::fs::rename(partial, &target)
        .await
        .map_err(|source| FileError::Local {
            path: target.clone(),
            source,
        })?;
    Ok(target)
}

/// `name` in `folder`, or the first of `stem (1).ext`, `stem (2).ext`, ... not taken.
pub fn free_name(folder: &Path, name: &str) -> PathBuf {
    let candidate = folder.join(name);
    if !candidate.exists() {
        return candidate;
    }
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    (1..)
        .map(|n| folder.join(format!("{stem} ({n}){extension}")))
        .find(|path| !path.exists())
        .unwrap_or(candidate)
}

/// The media type a file's extension suggests; `application/octet-stream` for the rest.
pub fn media_type_of(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "zip" => "application/zip",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_never_replaces_a_file_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            free_name(dir.path(), "bill.jpg"),
            dir.path().join("bill.jpg")
        );
        std::fs::write(dir.path().join("bill.jpg"), b"x").unwrap();
        assert_eq!(
            free_name(dir.path(), "bill.jpg"),
            dir.path().join("bill (1).jpg")
        );
        std::fs::write(dir.path().join("bill (1).jpg"), b"x").unwrap();
        assert_eq!(
            free_name(dir.path(), "bill.jpg"),
            dir.path().join("bill (2).jpg")
        );
        std::fs::write(dir.path().join("notes"), b"x").unwrap();
        assert_eq!(free_name(dir.path(), "notes"), dir.path().join("notes (1)"));
    }
}
