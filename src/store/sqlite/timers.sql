-- quid server store, schema version 11 (issue 14): disappearing messages. A sealed message
-- may carry the time after which the server deletes its ciphertext (the expiry sweep leaves a
-- tombstone).

ALTER TABLE messages ADD COLUMN expires_at_ms INTEGER;
CREATE INDEX messages_expiring ON messages(expires_at_ms) WHERE expires_at_ms IS NOT NULL;
