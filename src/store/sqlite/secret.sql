-- quid server store, schema version 10 (issue 14): secret conversations. The server is a key
-- directory (each device's identity keys, its signed one-time keys, each handed out once, and
-- a fallback key for when they run out) and the relay of sealed messages, whose ciphertexts
-- it keeps and cannot read.

CREATE TABLE devices (
    -- Its Curve25519 identity key, base64.
    id                 TEXT PRIMARY KEY,
    user_id            INTEGER NOT NULL REFERENCES users(id),
    ed25519            TEXT NOT NULL,
    signature          TEXT NOT NULL,
    fallback_key_id    TEXT,
    fallback_key       TEXT,
    fallback_signature TEXT,
    created_at_ms      INTEGER NOT NULL
);
CREATE INDEX devices_by_user ON devices(user_id);

CREATE TABLE one_time_keys (
    device_id TEXT NOT NULL REFERENCES devices(id),
    key_id    TEXT NOT NULL,
    key       TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (device_id, key_id)
) WITHOUT ROWID;

-- A secret conversation is a direct one, apart from the plain one of the same pair.
ALTER TABLE conversations ADD COLUMN secret INTEGER NOT NULL DEFAULT 0;

-- A sealed message's ciphertexts, one per device (protocol::secret::Sealed as JSON); its
-- text is empty.
ALTER TABLE messages ADD COLUMN sealed TEXT;
