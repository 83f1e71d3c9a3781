//! `Files` and `Blobs` on SQLite. A file's bytes are not in the database: they are files in
//! a folder beside it (`server.db.files/`), an upload's under `uploads/` while it comes in
//! (appended and synced piece by piece, so a cut upload keeps what arrived), then renamed to
//! `sha256/DIGEST`: files of the same bytes share one.

use crate::protocol::files::{FileId, UploadId};
use crate::protocol::{ApiError, ErrorCode, TimestampMs, UserId};
use crate::store::Cached;
use crate::store::files::{
    Blobs, FILE_COLUMNS, Files, StoredFile, StoredUpload, size_column, stored_file,
};
use rusqlite::{Connection, OptionalExtension};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

fn file_from_row(row: &rusqlite::Row) -> rusqlite::Result<StoredFile> {
    Ok(stored_file(
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

impl Files for Connection {
    fn insert_upload(&self, upload: &StoredUpload, at: TimestampMs) -> Result<(), ApiError> {
        self.execute_cached(
            "INSERT INTO uploads (id, user_id, name, media_type, size, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                upload.id.0,
                upload.owner.0,
                upload.name,
                upload.media_type,
                size_column(upload.size)?,
                at.0
            ],
        )?;
        Ok(())
    }

    fn upload(&self, id: &UploadId) -> Result<Option<StoredUpload>, ApiError> {
        Ok(self
            .query_row_cached(
                "SELECT id, user_id, name, media_type, size FROM uploads WHERE id = ?1",
                [&id.0],
                |row| {
                    Ok(StoredUpload {
                        id: UploadId(row.get(0)?),
                        owner: UserId(row.get(1)?),
                        name: row.get(2)?,
                        media_type: row.get(3)?,
                        size: u64::try_from(row.get::<_, i64>(4)?).unwrap_or_default(),
                    })
                },
            )
            .optional()?)
    }

    fn delete_upload(&self, id: &UploadId) -> Result<(), ApiError> {
        self.execute_cached("DELETE FROM uploads WHERE id = ?1", [&id.0])?;
        Ok(())
    }

    fn insert_file(&self, stored: &StoredFile, at: TimestampMs) -> Result<(), ApiError> {
        let file = &stored.file;
        self.execute_cached(
            "INSERT INTO files (id, uploader_id, name, media_type, size, sha256, blob, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                file.id.0,
                stored.uploader.0,
                file.name,
                file.media_type,
                size_column(file.size)?,
                file.sha256,
                stored.blob,
                at.0
            ],
        )?;
        Ok(())
    }

    fn file(&self, id: &FileId) -> Result<Option<StoredFile>, ApiError> {
        Ok(self
            .query_row_cached(
                &format!("SELECT {FILE_COLUMNS} FROM files f WHERE f.id = ?1"),
                [&id.0],
                file_from_row,
            )
            .optional()?)
    }

    fn may_read_file(&self, id: &FileId, user: UserId) -> Result<bool, ApiError> {
        Ok(self.query_row_cached(
            "SELECT EXISTS (SELECT 1 FROM files WHERE id = ?1 AND uploader_id = ?2)
                 OR EXISTS (SELECT 1 FROM messages m JOIN members mb
                     ON mb.conversation_id = m.conversation_id AND mb.user_id = ?2
                     AND mb.active = 1
                   WHERE m.file_id = ?1 AND m.deleted = 0)",
            rusqlite::params![id.0, user.0],
            |row| row.get(0),
        )?)
    }

    fn bytes_held(&self, user: UserId) -> Result<u64, ApiError> {
        let held: i64 = self.query_row_cached(
            "SELECT (SELECT COALESCE(SUM(size), 0) FROM files WHERE uploader_id = ?1)
                  + (SELECT COALESCE(SUM(size), 0) FROM uploads WHERE user_id = ?1)",
            [user.0],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(held).unwrap_or_default())
    }

    fn forgotten_files(&self, before: TimestampMs) -> Result<Vec<StoredFile>, ApiError> {
        let mut statement = self.prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM files f WHERE f.created_at_ms < ?1
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id)"
        ))?;
        let files = statement
            .query_map([before.0], file_from_row)?
            .collect::<Result<_, _>>()?;
        Ok(files)
    }

    fn stale_uploads(&self, before: TimestampMs) -> Result<Vec<UploadId>, ApiError> {
        let mut statement =
            self.prepare_cached("SELECT id FROM uploads WHERE created_at_ms < ?1")?;
        let ids = statement
            .query_map([before.0], |row| row.get(0).map(UploadId))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    fn delete_file(&self, id: &FileId) -> Result<(), ApiError> {
        self.execute_cached("DELETE FROM files WHERE id = ?1", [&id.0])?;
        Ok(())
    }

    fn blob_in_use(&self, blob: &str, except: &FileId) -> Result<bool, ApiError> {
        Ok(self.query_row_cached(
            "SELECT EXISTS (SELECT 1 FROM files WHERE blob = ?1 AND id <> ?2)",
            [blob, &except.0],
            |row| row.get(0),
        )?)
    }
}

/// A failure of the file system under the blobs: logged with its path, `internal` to the
/// client.
fn disk_error(path: &Path, error: std::io::Error) -> ApiError {
    tracing::error!(path = %path.display(), %error, "file store failure");
    ApiError::internal()
}

/// Where the blobs of the database on `conn` are: a folder beside its file.
fn blobs_dir(conn: &Connection) -> Result<PathBuf, ApiError> {
    match conn.path() {
        Some(path) if !path.is_empty() && !path.starts_with("file:") => {
            Ok(PathBuf::from(format!("{path}.files")))
        }
        _ => {
            tracing::error!("files need a database on disk; this one is in memory");
            Err(ApiError::internal())
        }
    }
}

/// The path of `blob` (a name the store made: `uploads/ID` or `sha256/DIGEST`), its folder
/// made if need be.
fn blob_path(conn: &Connection, blob: &str) -> Result<PathBuf, ApiError> {
    let path = blobs_dir(conn)?.join(blob);
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|e| disk_error(folder, e))?;
    }
    Ok(path)
}

/// Makes a new name in `folder` durable (fsync of the folder itself).
fn sync_folder(folder: &Path) -> Result<(), ApiError> {
    std::fs::File::open(folder)
        .and_then(|f| f.sync_all())
        .map_err(|e| disk_error(folder, e))
}

impl Blobs for Connection {
    fn blob_len(&self, blob: &str) -> Result<u64, ApiError> {
        let path = blob_path(self, blob)?;
        match std::fs::metadata(&path) {
            Ok(metadata) => Ok(metadata.len()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(error) => Err(disk_error(&path, error)),
        }
    }

    fn append_blob(&self, blob: &str, offset: u64, data: &[u8]) -> Result<(), ApiError> {
        let path = blob_path(self, blob)?;
        let fail = |e| disk_error(&path, e);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(fail)?;
        let held = file.metadata().map_err(fail)?.len();
        if held != offset {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("the upload holds {held} bytes; send the rest from there"),
            ));
        }
        file.write_all(data)
            .and_then(|()| file.sync_data())
            .map_err(fail)?;
        if held == 0 {
            sync_folder(path.parent().unwrap_or(&path))?;
        }
        Ok(())
    }

    fn read_blob(&self, blob: &str, offset: u64, max: usize) -> Result<Vec<u8>, ApiError> {
        let path = blob_path(self, blob)?;
        let fail = |e| disk_error(&path, e);
        let mut file = std::fs::File::open(&path).map_err(fail)?;
        file.seek(std::io::SeekFrom::Start(offset)).map_err(fail)?;
        let mut bytes = Vec::with_capacity(max);
        file.take(max as u64)
            .read_to_end(&mut bytes)
            .map_err(fail)?;
        Ok(bytes)
    }

    fn seal_blob(&self, upload: &str, sha256: &str) -> Result<String, ApiError> {
        let sealed = format!("sha256/{sha256}");
        let (from, to) = (blob_path(self, upload)?, blob_path(self, &sealed)?);
        if to.exists() {
            // The same bytes are here already: one copy serves both files.
            std::fs::remove_file(&from).map_err(|e| disk_error(&from, e))?;
        } else {
            std::fs::rename(&from, &to).map_err(|e| disk_error(&to, e))?;
            sync_folder(to.parent().unwrap_or(&to))?;
        }
        Ok(sealed)
    }

    fn delete_blob(&self, blob: &str) -> Result<(), ApiError> {
        let path = blob_path(self, blob)?;
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(disk_error(&path, error))
            }
            _ => Ok(()),
        }
    }
}
