-- quid server store on PostgreSQL, schema version 5 (issue 14): secret conversations, as
-- SQLite's secret.sql.

CREATE TABLE devices (
    id                 TEXT PRIMARY KEY,
    user_id            BIGINT NOT NULL REFERENCES users(id),
    ed25519            TEXT NOT NULL,
    signature          TEXT NOT NULL,
    fallback_key_id    TEXT,
    fallback_key       TEXT,
    fallback_signature TEXT,
    created_at_ms      BIGINT NOT NULL
);
CREATE INDEX devices_by_user ON devices(user_id);

CREATE TABLE one_time_keys (
    device_id TEXT NOT NULL REFERENCES devices(id),
    key_id    TEXT NOT NULL,
    key       TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (device_id, key_id)
);

ALTER TABLE conversations ADD COLUMN secret INTEGER NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN sealed TEXT;
