//! Files over HTTP on the server's port (docs/PROTOCOL.md, "Files"): beginning an upload,
//! sending its bytes in one piece or several (`Content-Range`, so a cut upload resumes where
//! it stopped), asking where one stands, and downloading a file, always as an attachment.
//! Every request carries the session's bearer token. Bytes pass through in pieces of
//! [`PIECE_BYTES`], whatever the file's size; the rules are `store/files.rs`'.

use super::ServerState;
use super::auth::authenticate;
use crate::protocol::files::{
    FILES_PATH, FileId, NewUpload, UploadId, UploadState, Uploaded, check_media_type, check_size,
    clean_name,
};
use crate::protocol::{ApiError, ErrorCode, UNAVAILABLE_RETRY, User};
use crate::store::files::{StoredFile, StoredUpload, upload_blob};
use crate::web::{self, Body};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Bytes written to the store, or read from it, at a time: what one upload or download holds
/// in memory at most, beside hyper's own buffer.
pub const PIECE_BYTES: usize = 1024 * 1024;

/// Largest body of `POST /v1/files` (the JSON that names the upload).
const MAX_BEGIN_BYTES: usize = 4 * 1024;

/// An upload that sends nothing for this long is taken as cut: what came is kept.
const STALL: Duration = Duration::from_secs(30);

/// Answers a request under `/v1/files`.
pub async fn serve(request: Request<Incoming>, state: &Arc<ServerState>) -> Response<Body> {
    match answer(request, state).await {
        Ok(response) => response,
        Err(error) => refusal(&error),
    }
}

async fn answer(
    request: Request<Incoming>,
    state: &Arc<ServerState>,
) -> Result<Response<Body>, ApiError> {
    let me = caller(&request, state).await?;
    let path = request.uri().path();
    let rest = path.strip_prefix(FILES_PATH).unwrap_or_default();
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (request.method().clone(), parts.as_slice()) {
        (Method::POST, [""]) => begin(request, state, &me).await,
        (Method::PUT, ["uploads", id]) => {
            let id = UploadId::parse(id)?;
            put(request, state, &me, id).await
        }
        (Method::GET, ["uploads", id]) => {
            let upload = owned_upload(state, &me, UploadId::parse(id)?).await?;
            let received = received(state, &upload).await?;
            json(StatusCode::OK, &state_of(&upload, received))
        }
        (Method::GET, [id]) => download(state, &me, FileId::parse(id)?).await,
        (method, _) => Err(ApiError::not_found(format!(
            "no {method} {path:?}: files are POST {FILES_PATH}, PUT and GET \
             {FILES_PATH}/uploads/ID, GET {FILES_PATH}/ID"
        ))),
    }
}

/// Who the bearer token says is asking; files are for logged-in users only.
async fn caller(request: &Request<Incoming>, state: &ServerState) -> Result<User, ApiError> {
    let authorization = web::header(request.headers(), "authorization");
    let identity = authenticate(authorization, state)
        .await
        .map_err(|(status, message)| match status {
            StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable(),
            StatusCode::UNAUTHORIZED => ApiError::new(ErrorCode::Unauthenticated, message),
            _ => ApiError::internal(),
        })?;
    identity.user.ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "files need a session: send Authorization: Bearer TOKEN",
        )
    })
}

/// `POST /v1/files`: checks the file's name, type and size against the limits and its
/// owner's quota, and answers with the upload's id.
async fn begin(
    request: Request<Incoming>,
    state: &ServerState,
    me: &User,
) -> Result<Response<Body>, ApiError> {
    let body = web::read_body(request.into_body(), MAX_BEGIN_BYTES)
        .await
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let asked: NewUpload = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(format!(
            "the body is not the JSON expected ({{\"name\", \"size\", \"media_type\"}}): {e}"
        ))
    })?;
    check_size(asked.size, state.config.max_file_bytes)?;
    let upload = StoredUpload {
        id: UploadId::random(),
        owner: me.id,
        name: clean_name(&asked.name),
        media_type: check_media_type(&asked.media_type)?,
        size: asked.size,
    };
    let quota = state.config.file_quota_bytes;
    let begun = upload.clone();
    state
        .writer
        .write(move |ctx| crate::store::files::begin_upload(ctx, &begun, quota))
        .await?;
    json(StatusCode::CREATED, &state_of(&upload, 0))
}

fn state_of(upload: &StoredUpload, received: u64) -> UploadState {
    UploadState {
        upload: upload.id.clone(),
        size: upload.size,
        received,
    }
}

/// The upload `id`, if it is `me`'s; `not_found` for anyone else's, as for none.
async fn owned_upload(
    state: &ServerState,
    me: &User,
    id: UploadId,
) -> Result<StoredUpload, ApiError> {
    let asked = id.clone();
    let upload = state.store.read(move |db| db.upload(&asked)).await?;
    upload
        .filter(|upload| upload.owner == me.id)
        .ok_or_else(|| ApiError::not_found(format!("no upload {id}")))
}

/// The bytes the store holds of `upload`.
async fn received(state: &ServerState, upload: &StoredUpload) -> Result<u64, ApiError> {
    let blob = upload.blob();
    state.store.read(move |db| db.blob_len(&blob)).await
}

/// Where a piece goes: `Content-Range: bytes FIRST-LAST/SIZE`, or without the header the
/// whole file. Returns the offsets of the first byte and one past the last.
fn range_of(request: &Request<Incoming>, size: u64) -> Result<(u64, u64), ApiError> {
    let Some(range) = web::header(request.headers(), "content-range") else {
        return Ok((0, size));
    };
    let bad = || {
        ApiError::invalid(format!(
            "Content-Range {range:?} is not \"bytes FIRST-LAST/{size}\""
        ))
    };
    let (span, total) = range
        .strip_prefix("bytes ")
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(bad)?;
    let (first, last) = span.split_once('-').ok_or_else(bad)?;
    let number = |text: &str| text.trim().parse::<u64>().map_err(|_| bad());
    let (first, last, total) = (number(first)?, number(last)?, number(total)?);
    if total != size || first > last || last >= size {
        return Err(bad());
    }
    Ok((first, last + 1))
}

/// `PUT /v1/files/uploads/ID`: appends a piece, which must start where the upload stands.
/// The bytes that arrive are kept even if the connection is cut; the piece that completes
/// the upload makes it a file (201, with the file), any other answers where it stands.
async fn put(
    request: Request<Incoming>,
    state: &ServerState,
    me: &User,
    id: UploadId,
) -> Result<Response<Body>, ApiError> {
    let upload = owned_upload(state, me, id).await?;
    let (first, end) = range_of(&request, upload.size)?;
    let held = received(state, &upload).await?;
    if first != held {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("the upload holds {held} bytes; send the rest from byte {held}"),
        ));
    }
    // A piece from the first byte to the last is hashed as it comes; an upload in several
    // pieces is hashed once complete, read back from the store.
    let mut digest = (first == 0 && end == upload.size).then(Sha256::new);
    let body = request.into_body();
    let written = take_piece(body, state, &upload, (first, end), digest.as_mut()).await?;
    if written < upload.size {
        return json(StatusCode::OK, &state_of(&upload, written));
    }
    let sha256 = match digest {
        Some(digest) => hex::encode(digest.finalize()),
        None => digest_of(state, &upload).await?,
    };
    let file = finish(state, &upload, sha256).await?;
    json(StatusCode::CREATED, &Uploaded { file })
}

/// Writes the body to the upload from `first`, piece by piece, up to `end`, feeding
/// `digest` if given; returns the bytes the upload then holds. While one piece is written
/// (and synced) the next is received, so the network and the disk work side by side; the
/// upload holds two pieces in memory at most. A body cut or stalled keeps what arrived.
async fn take_piece(
    mut body: Incoming,
    state: &ServerState,
    upload: &StoredUpload,
    (first, end): (u64, u64),
    mut digest: Option<&mut Sha256>,
) -> Result<u64, ApiError> {
    let mut writing = Writing::new(state, upload, first);
    let mut pending: Vec<u8> = Vec::with_capacity(PIECE_BYTES.min((end - first) as usize));
    let mut cut = false;
    loop {
        let data = match tokio::time::timeout(STALL, body.frame()).await {
            Ok(None) => break,
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Ok(Some(Err(_))) | Err(_) => {
                cut = true;
                break;
            }
        };
        if writing.handed + (pending.len() + data.len()) as u64 > end {
            return Err(ApiError::invalid(format!(
                "the body holds more than the {} bytes its Content-Range names",
                end - first
            )));
        }
        if let Some(digest) = digest.as_mut() {
            digest.update(&data);
        }
        pending.extend_from_slice(&data);
        if pending.len() >= PIECE_BYTES {
            writing.hand(std::mem::take(&mut pending)).await?;
        }
    }
    writing.hand(pending).await?;
    let at = writing.finish().await?;
    if cut {
        return Err(ApiError::invalid(format!(
            "the upload was cut at byte {at}; send the rest from there"
        )));
    }
    Ok(at)
}

/// An upload's pieces on their way to the store, one at a time and in order.
struct Writing {
    store: Arc<crate::store::Store>,
    blob: String,
    /// The bytes handed to the store so far, from the upload's start.
    handed: u64,
    in_flight: Option<tokio::task::JoinHandle<Result<(), ApiError>>>,
}

impl Writing {
    fn new(state: &ServerState, upload: &StoredUpload, first: u64) -> Writing {
        Writing {
            store: Arc::clone(&state.store),
            blob: upload.blob(),
            handed: first,
            in_flight: None,
        }
    }

    /// Starts writing `piece` once the piece before it is written.
    async fn hand(&mut self, piece: Vec<u8>) -> Result<(), ApiError> {
        self.settle().await?;
        if piece.is_empty() {
            return Ok(());
        }
        let (store, blob, at) = (Arc::clone(&self.store), self.blob.clone(), self.handed);
        self.handed += piece.len() as u64;
        // A file's bytes are no request's: written on a pooled connection, not the writer.
        self.in_flight = Some(tokio::spawn(async move {
            store
                .read(move |db| db.append_blob(&blob, at, &piece))
                .await
        }));
        Ok(())
    }

    async fn settle(&mut self) -> Result<(), ApiError> {
        match self.in_flight.take() {
            Some(writing) => writing.await.map_err(|_| ApiError::internal())?,
            None => Ok(()),
        }
    }

    /// Waits for the last piece; returns the bytes the upload holds.
    async fn finish(mut self) -> Result<u64, ApiError> {
        self.settle().await?;
        Ok(self.handed)
    }
}

/// Makes a complete upload a file, its bytes sealed under `sha256`.
async fn finish(
    state: &ServerState,
    upload: &StoredUpload,
    sha256: String,
) -> Result<crate::protocol::files::FileRef, ApiError> {
    let id = upload.id.clone();
    state
        .writer
        .write(move |ctx| crate::store::files::finish_upload(ctx, &id, &sha256))
        .await
}

/// The SHA-256 of a complete upload's bytes, read back from the store.
async fn digest_of(state: &ServerState, upload: &StoredUpload) -> Result<String, ApiError> {
    let blob = upload_blob(&upload.id);
    let mut digest = Sha256::new();
    let mut at = 0;
    while at < upload.size {
        let piece = read_piece(state, &blob, at).await?;
        if piece.is_empty() {
            tracing::error!(upload = %upload.id, at, "an upload's bytes ended early");
            return Err(ApiError::internal());
        }
        digest.update(&piece);
        at += piece.len() as u64;
    }
    Ok(hex::encode(digest.finalize()))
}

async fn read_piece(state: &ServerState, blob: &str, at: u64) -> Result<Vec<u8>, ApiError> {
    let blob = blob.to_owned();
    state
        .store
        .read(move |db| db.read_blob(&blob, at, PIECE_BYTES))
        .await
}

/// `GET /v1/files/ID`: the file's bytes, for its uploader and the members of a conversation
/// where a message carries it (`not_found` for anyone else, as for no file). Always an
/// attachment, never rendered, whatever type it claims.
async fn download(
    state: &Arc<ServerState>,
    me: &User,
    id: FileId,
) -> Result<Response<Body>, ApiError> {
    let (asked, user) = (id.clone(), me.id);
    let stored = state
        .store
        .read(move |db| match db.may_read_file(&asked, user)? {
            true => db.file(&asked),
            false => Ok(None),
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no file {id}")))?;
    let mut response = Response::new(pieces(Arc::clone(state), &stored));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, stored.file.size.into());
    let claimed = HeaderValue::from_str(&stored.file.media_type);
    headers.insert(
        header::CONTENT_TYPE,
        claimed.unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    for (name, value) in attachment_headers(&stored.file.name) {
        headers.insert(name, value);
    }
    Ok(response)
}

/// What makes a download a download and nothing else: saved under its name, never sniffed
/// into another type, and were a browser to render it anyway, with no script, style or
/// request of its own.
fn attachment_headers(name: &str) -> [(header::HeaderName, HeaderValue); 4] {
    let ascii: String = name
        .chars()
        .map(|c| match c.is_ascii_graphic() || c == ' ' {
            true if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let encoded = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    [
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ),
    ]
}

/// The file's bytes as a body, read from the store a piece at a time as the client takes
/// them.
fn pieces(state: Arc<ServerState>, stored: &StoredFile) -> Body {
    let (blob, size) = (stored.blob.clone(), stored.file.size);
    let stream = futures_util::stream::unfold(0u64, move |at| {
        let (state, blob) = (Arc::clone(&state), blob.clone());
        async move {
            if at >= size {
                return None;
            }
            let piece = match read_piece(&state, &blob, at).await {
                Ok(piece) if !piece.is_empty() => piece,
                Ok(_) | Err(_) => {
                    tracing::error!(blob, at, "a file's bytes could not be read");
                    let failed = std::io::Error::other("the file could not be read");
                    return Some((Err(failed), size));
                }
            };
            let next = at + piece.len() as u64;
            Some((Ok(Frame::data(Bytes::from(piece))), next))
        }
    });
    http_body_util::StreamBody::new(stream.boxed()).boxed_unsync()
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_vec(value).map_err(|_| ApiError::internal())?;
    Ok(web::respond(status, "application/json", body))
}

/// A refused request as HTTP: the status its code maps to, and the protocol's error as JSON
/// (`{"error": {"code", "message"}}`).
fn refusal(error: &ApiError) -> Response<Body> {
    let status = match error.code {
        ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::FileTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::QuotaExceeded => StatusCode::INSUFFICIENT_STORAGE,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = serde_json::json!({"error": {"code": error.code, "message": error.message}});
    let mut response = web::respond(status, "application/json", body.to_string());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, UNAVAILABLE_RETRY.as_secs().into());
    }
    response
}
