-- quid server store, schema version 5: sessions a user can list and revoke, and a log of
-- revoked tokens that every server process follows to close their live connections.
-- See store/accounts.rs and server/revocation.rs.

ALTER TABLE tokens ADD COLUMN last_used_at_ms INTEGER;
ALTER TABLE tokens ADD COLUMN last_address TEXT;
CREATE INDEX tokens_by_user ON tokens(user_id);

CREATE TABLE token_revocations (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT NOT NULL,
    revoked_at_ms INTEGER NOT NULL
);
