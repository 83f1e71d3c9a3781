-- quid server store on PostgreSQL, schema version 6 (issue 14): disappearing messages, as
-- SQLite's timers.sql.

ALTER TABLE messages ADD COLUMN expires_at_ms BIGINT;
CREATE INDEX messages_expiring ON messages(expires_at_ms) WHERE expires_at_ms IS NOT NULL;
