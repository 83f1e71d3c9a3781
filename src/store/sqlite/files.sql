-- quid server store, schema version 16 (issue 26): files in the chat. An upload under way,
-- the file it becomes, and the message that carries one. The bytes are not here: they are
-- files beside the database (store::sqlite::files), named by their SHA-256.
CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX uploads_by_user ON uploads(user_id);
CREATE INDEX uploads_by_age ON uploads(created_at_ms);
CREATE TABLE files (
    id            TEXT PRIMARY KEY,
    uploader_id   INTEGER NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    blob          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX files_by_uploader ON files(uploader_id);
CREATE INDEX files_by_blob ON files(blob);
CREATE INDEX files_by_age ON files(created_at_ms);
ALTER TABLE messages ADD COLUMN file_id TEXT REFERENCES files(id);
CREATE INDEX messages_by_file ON messages(file_id) WHERE file_id IS NOT NULL;
