-- quid server store on PostgreSQL, schema version 3 (issue 12): replies, edits, deletes,
-- reactions, as SQLite's chat.sql. quid re-writes `words` itself when a text changes.

ALTER TABLE messages ADD COLUMN reply_to_id BIGINT REFERENCES messages(id);
ALTER TABLE messages ADD COLUMN edited_at_ms BIGINT;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE reactions (
    message_id BIGINT NOT NULL REFERENCES messages(id),
    user_id    BIGINT NOT NULL REFERENCES users(id),
    emoji      TEXT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
