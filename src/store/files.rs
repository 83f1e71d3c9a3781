//! Files: uploads under way, the files they become, who may download one, and what each user
//! holds against their quota. The bytes are the backend's (`Blobs`): SQLite keeps them in
//! files beside the database, PostgreSQL in a table, so that every node serves every file.
//! The HTTP side is `server/files.rs`.

use super::writer::WriteCtx;
use crate::protocol::files::{FileId, FileRef, UploadId};
use crate::protocol::{ApiError, ErrorCode, TimestampMs, User, UserId};

/// How long a file no message carries, or an upload never finished, is kept.
pub const FORGOTTEN_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// An upload under way: what its file will be, and whose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    pub id: UploadId,
    pub owner: UserId,
    pub name: String,
    pub media_type: String,
    pub size: u64,
}

impl StoredUpload {
    /// The blob its bytes go to while it is under way.
    pub fn blob(&self) -> String {
        upload_blob(&self.id)
    }
}

/// The blob an upload's bytes go to.
pub fn upload_blob(id: &UploadId) -> String {
    format!("uploads/{id}")
}

/// A file, and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub file: FileRef,
    pub uploader: UserId,
    pub blob: String,
}

/// The columns every file is read with, on both backends (`stored_file`).
pub(super) const FILE_COLUMNS: &str =
    "f.id, f.name, f.size, f.media_type, f.sha256, f.uploader_id, f.blob";

/// Uploads and files, as rows.
pub trait Files {
    fn insert_upload(&self, upload: &StoredUpload, at: TimestampMs) -> Result<(), ApiError>;
    fn upload(&self, id: &UploadId) -> Result<Option<StoredUpload>, ApiError>;
    fn delete_upload(&self, id: &UploadId) -> Result<(), ApiError>;
    fn insert_file(&self, file: &StoredFile, at: TimestampMs) -> Result<(), ApiError>;
    fn file(&self, id: &FileId) -> Result<Option<StoredFile>, ApiError>;
    /// Whether `user` uploaded the file, or is in a conversation where a message carries it.
    fn may_read_file(&self, id: &FileId, user: UserId) -> Result<bool, ApiError>;
    /// The bytes held for `user`: the files they uploaded and the uploads they began.
    fn bytes_held(&self, user: UserId) -> Result<u64, ApiError>;
    /// Files no message carries, made before `before`.
    fn forgotten_files(&self, before: TimestampMs) -> Result<Vec<StoredFile>, ApiError>;
    /// Uploads begun before `before`.
    fn stale_uploads(&self, before: TimestampMs) -> Result<Vec<UploadId>, ApiError>;
    fn delete_file(&self, id: &FileId) -> Result<(), ApiError>;
    /// Whether a file other than `except` keeps its bytes in `blob` (SQLite shares a blob
    /// between files of the same bytes).
    fn blob_in_use(&self, blob: &str, except: &FileId) -> Result<bool, ApiError>;
}

/// A file's bytes: written in pieces while it is uploaded, read in pieces when it is
/// downloaded. Outside the writer's transactions but for [`Blobs::seal_blob`].
pub trait Blobs {
    /// The bytes `blob` holds (none if it does not exist).
    fn blob_len(&self, blob: &str) -> Result<u64, ApiError>;
    /// Appends `data` to `blob` at `offset`, which must be its length (a `conflict` if not);
    /// durable when this returns.
    fn append_blob(&self, blob: &str, offset: u64, data: &[u8]) -> Result<(), ApiError>;
    /// Up to `max` bytes of `blob` from `offset`; none past its end.
    fn read_blob(&self, blob: &str, offset: u64, max: usize) -> Result<Vec<u8>, ApiError>;
    /// Makes a finished upload's bytes a file's, given their digest; returns where they now
    /// are. In the writer, beside [`Files::insert_file`], so that a blob shared by equal
    /// files is never taken away between the two.
    fn seal_blob(&self, upload: &str, sha256: &str) -> Result<String, ApiError>;
    fn delete_blob(&self, blob: &str) -> Result<(), ApiError>;
}

/// A file row read back.
#[allow(clippy::too_many_arguments)] // One per column of FILE_COLUMNS.
pub(super) fn stored_file(
    id: String,
    name: String,
    size: i64,
    media_type: String,
    sha256: String,
    uploader: i64,
    blob: String,
) -> StoredFile {
    StoredFile {
        file: file_ref(id, name, size, media_type, sha256),
        uploader: UserId(uploader),
        blob,
    }
}

/// A file as the columns hold it (a size is a signed 64-bit integer there).
fn file_ref(id: String, name: String, size: i64, media_type: String, sha256: String) -> FileRef {
    FileRef {
        id: FileId(id),
        name,
        size: u64::try_from(size).unwrap_or_default(),
        media_type,
        sha256,
    }
}

/// A size as both backends keep it (a signed 64-bit integer).
pub(super) fn size_column(size: u64) -> Result<i64, ApiError> {
    i64::try_from(size).map_err(|_| ApiError::invalid("a file of more than 2^63 bytes"))
}

/// Begins `upload`, refused if it would take its owner past `quota` bytes.
pub fn begin_upload(ctx: &mut WriteCtx, upload: &StoredUpload, quota: u64) -> Result<(), ApiError> {
    let held = ctx.db().bytes_held(upload.owner)?;
    if held.saturating_add(upload.size) > quota {
        return Err(ApiError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "this file ({}) would take you past the {} this server keeps for you; you \
                 hold {} (a file no message carries goes after a day)",
                crate::protocol::files::human_size(upload.size),
                crate::protocol::files::human_size(quota),
                crate::protocol::files::human_size(held)
            ),
        ));
    }
    ctx.db().insert_upload(upload, ctx.now())
}

/// Ends a complete upload as a file: its bytes sealed under their digest, its row written,
/// the upload gone. A second call for the same upload finds it gone: `not_found`.
pub fn finish_upload(ctx: &mut WriteCtx, id: &UploadId, sha256: &str) -> Result<FileRef, ApiError> {
    let upload = ctx
        .db()
        .upload(id)?
        .ok_or_else(|| ApiError::not_found(format!("no upload {id}")))?;
    let blob = ctx.db().seal_blob(&upload.blob(), sha256)?;
    let file = FileRef {
        id: FileId::random(),
        name: upload.name,
        size: upload.size,
        media_type: upload.media_type,
        sha256: sha256.to_owned(),
    };
    let stored = StoredFile {
        file: file.clone(),
        uploader: upload.owner,
        blob,
    };
    ctx.db().insert_file(&stored, ctx.now())?;
    ctx.db().delete_upload(id)?;
    Ok(file)
}

/// Deletes what no one needs any more: files no message carries and uploads never finished,
/// made before `before`. Returns how many of each went.
pub fn sweep(ctx: &mut WriteCtx, before: TimestampMs) -> Result<(usize, usize), ApiError> {
    let files = ctx.db().forgotten_files(before)?;
    for stored in &files {
        ctx.db().delete_file(&stored.file.id)?;
        if !ctx.db().blob_in_use(&stored.blob, &stored.file.id)? {
            ctx.db().delete_blob(&stored.blob)?;
        }
    }
    let uploads = ctx.db().stale_uploads(before)?;
    for id in &uploads {
        ctx.db().delete_upload(id)?;
        ctx.db().delete_blob(&upload_blob(id))?;
    }
    Ok((files.len(), uploads.len()))
}

/// The file `id`, if `me` may send it on: `not_found` otherwise, whether or not it exists.
pub(super) fn readable_file(ctx: &WriteCtx, me: &User, id: &FileId) -> Result<FileRef, ApiError> {
    let stored = match ctx.db().may_read_file(id, me.id)? {
        true => ctx.db().file(id)?,
        false => None,
    };
    stored
        .map(|stored| stored.file)
        .ok_or_else(|| ApiError::not_found(format!("no file {id} (upload it first)")))
}

/// The file `SELECT_MESSAGE` read, if the message carries one.
pub(super) fn file_of(
    id: Option<String>,
    name: String,
    size: i64,
    media_type: String,
    sha256: String,
) -> Option<Box<FileRef>> {
    id.map(|id| Box::new(file_ref(id, name, size, media_type, sha256)))
}
