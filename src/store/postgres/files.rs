//! `Files` and `Blobs` on PostgreSQL: the same contract as SQLite's. A file's bytes are rows
//! of `file_chunks` (each piece an upload request brought, at its offset), so that every
//! node serves every file. Blobs are never shared here: an upload's stay its file's.

use super::PgTx;
use crate::protocol::files::{FileId, UploadId};
use crate::protocol::{ApiError, ErrorCode, TimestampMs, UserId};
use crate::store::files::{
    Blobs, FILE_COLUMNS, Files, StoredFile, StoredUpload, size_column, stored_file,
};

fn file_from_row(row: &postgres::Row) -> StoredFile {
    stored_file(
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
    )
}

impl Files for PgTx<'_> {
    fn insert_upload(&self, upload: &StoredUpload, at: TimestampMs) -> Result<(), ApiError> {
        self.tx().execute(
            "INSERT INTO uploads (id, user_id, name, media_type, size, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &upload.id.0,
                &upload.owner.0,
                &upload.name,
                &upload.media_type,
                &size_column(upload.size)?,
                &at.0,
            ],
        )?;
        Ok(())
    }

    fn upload(&self, id: &UploadId) -> Result<Option<StoredUpload>, ApiError> {
        let row = self.tx().query_opt(
            "SELECT id, user_id, name, media_type, size FROM uploads WHERE id = $1",
            &[&id.0],
        )?;
        Ok(row.map(|row| StoredUpload {
            id: UploadId(row.get(0)),
            owner: UserId(row.get(1)),
            name: row.get(2),
            media_type: row.get(3),
            size: u64::try_from(row.get::<_, i64>(4)).unwrap_or_default(),
        }))
    }

    fn delete_upload(&self, id: &UploadId) -> Result<(), ApiError> {
        self.tx()
            .execute("DELETE FROM uploads WHERE id = $1", &[&id.0])?;
        Ok(())
    }

    fn insert_file(&self, stored: &StoredFile, at: TimestampMs) -> Result<(), ApiError> {
        let file = &stored.file;
        self.tx().execute(
            "INSERT INTO files (id, uploader_id, name, media_type, size, sha256, blob, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &file.id.0,
                &stored.uploader.0,
                &file.name,
                &file.media_type,
                &size_column(file.size)?,
                &file.sha256,
                &stored.blob,
                &at.0,
            ],
        )?;
        Ok(())
    }

    fn file(&self, id: &FileId) -> Result<Option<StoredFile>, ApiError> {
        let row = self.tx().query_opt(
            &format!("SELECT {FILE_COLUMNS} FROM files f WHERE f.id = $1"),
            &[&id.0],
        )?;
        Ok(row.as_ref().map(file_from_row))
    }

    fn may_read_file(&self, id: &FileId, user: UserId) -> Result<bool, ApiError> {
        let row = self.tx().query_one(
            "SELECT EXISTS (SELECT 1 FROM files WHERE id = $1 AND uploader_id = $2)
                 OR EXISTS (SELECT 1 FROM messages m JOIN members mb
                     ON mb.conversation_id = m.conversation_id AND mb.user_id = $2
                     AND mb.active = 1
                   WHERE m.file_id = $1 AND m.deleted = 0)",
            &[&id.0, &user.0],
        )?;
        Ok(row.get(0))
    }

    fn bytes_held(&self, user: UserId) -> Result<u64, ApiError> {
        let row = self.tx().query_one(
            "SELECT ((SELECT COALESCE(SUM(size), 0) FROM files WHERE uploader_id = $1)
                  + (SELECT COALESCE(SUM(size), 0) FROM uploads WHERE user_id = $1))::BIGINT",
            &[&user.0],
        )?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or_default())
    }

    fn forgotten_files(&self, before: TimestampMs) -> Result<Vec<StoredFile>, ApiError> {
        let rows = self.tx().query(
            &format!(
                "SELECT {FILE_COLUMNS} FROM files f WHERE f.created_at_ms < $1
                 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id)"
            ),
            &[&before.0],
        )?;
        Ok(rows.iter().map(file_from_row).collect())
    }

    fn stale_uploads(&self, before: TimestampMs) -> Result<Vec<UploadId>, ApiError> {
        let rows = self.tx().query(
            "SELECT id FROM uploads WHERE created_at_ms < $1",
            &[&before.0],
        )?;
        Ok(rows.iter().map(|row| UploadId(row.get(0))).collect())
    }

    fn delete_file(&self, id: &FileId) -> Result<(), ApiError> {
        self.tx()
            .execute("DELETE FROM files WHERE id = $1", &[&id.0])?;
        Ok(())
    }

    fn blob_in_use(&self, blob: &str, except: &FileId) -> Result<bool, ApiError> {
        let row = self.tx().query_one(
            "SELECT EXISTS (SELECT 1 FROM files WHERE blob = $1 AND id <> $2)",
            &[&blob, &except.0],
        )?;
        Ok(row.get(0))
    }
}

impl Blobs for PgTx<'_> {
    fn blob_len(&self, blob: &str) -> Result<u64, ApiError> {
        let row = self.tx().query_one(
            "SELECT COALESCE(SUM(octet_length(data)), 0)::BIGINT FROM file_chunks WHERE blob = $1",
            &[&blob],
        )?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or_default())
    }

    fn append_blob(&self, blob: &str, offset: u64, data: &[u8]) -> Result<(), ApiError> {
        let held = self.blob_len(blob)?;
        if held != offset {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("the upload holds {held} bytes; send the rest from there"),
            ));
        }
        // Two appends racing at one offset: the key refuses the second (a conflict).
        self.tx().execute(
            "INSERT INTO file_chunks (blob, offset_bytes, data) VALUES ($1, $2, $3)",
            &[&blob, &size_column(offset)?, &data],
        )?;
        Ok(())
    }

    fn read_blob(&self, blob: &str, offset: u64, max: usize) -> Result<Vec<u8>, ApiError> {
        let rows = self.tx().query(
            "SELECT offset_bytes, data FROM file_chunks
             WHERE blob = $1 AND offset_bytes + octet_length(data) > $2 AND offset_bytes < $3
             ORDER BY offset_bytes",
            &[
                &blob,
                &size_column(offset)?,
                &size_column(offset.saturating_add(max as u64))?,
            ],
        )?;
        let mut bytes = Vec::with_capacity(max);
        for row in rows {
            let (start, data): (i64, &[u8]) = (row.get(0), row.get(1));
            let skip = usize::try_from((offset as i64 - start).max(0)).unwrap_or_default();
            let wanted = (max - bytes.len()).min(data.len().saturating_sub(skip));
            bytes.extend_from_slice(&data[skip.min(data.len())..][..wanted]);
        }
        Ok(bytes)
    }

    fn seal_blob(&self, upload: &str, _sha256: &str) -> Result<String, ApiError> {
        Ok(upload.to_owned())
    }

    fn delete_blob(&self, blob: &str) -> Result<(), ApiError> {
        self.tx()
            .execute("DELETE FROM file_chunks WHERE blob = $1", &[&blob])?;
        Ok(())
    }
}
