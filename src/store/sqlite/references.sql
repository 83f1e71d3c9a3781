-- quid server store, schema version 6: a message event is kept in each member's stream as a
-- reference to the message (message_id), not a copy of it (body). See store/events.rs.
-- SQLite cannot relax a NOT NULL column in place, so the table is rebuilt; old rows keep their
-- bodies.

CREATE TABLE events_v6 (
    user_id    INTEGER NOT NULL REFERENCES users(id),
    seq        INTEGER NOT NULL,
    body       TEXT,
    -- No foreign key: messages are never deleted, and a check per member per message is the
    -- cost this table exists to avoid.
    message_id INTEGER,
    PRIMARY KEY (user_id, seq),
    CHECK ((body IS NULL) != (message_id IS NULL))
) WITHOUT ROWID;
INSERT INTO events_v6 (user_id, seq, body) SELECT user_id, seq, body FROM events;
DROP TABLE events;
ALTER TABLE events_v6 RENAME TO events;
