-- quid server store on PostgreSQL, schema version 4 (issue 12): mentions and mute, as
-- SQLite's mentions.sql.

ALTER TABLE members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE mentions (
    user_id    BIGINT NOT NULL REFERENCES users(id),
    message_id BIGINT NOT NULL REFERENCES messages(id),
    PRIMARY KEY (user_id, message_id)
);
CREATE INDEX mentions_by_message ON mentions(message_id);
