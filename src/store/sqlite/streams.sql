-- Fan-out on read: each conversation keeps one log of its events (messages, edits, reactions,
-- read marks, requests and invoices changing, members coming and going), stored once and read
-- by every member from their position in it. `last_pos` is the newest position handed out;
-- a member sees the log from `joined_pos` (exclusive) to `left_pos` (inclusive; NULL while a
-- member). See store/events.rs.
ALTER TABLE conversations ADD COLUMN last_pos INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN joined_pos INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN left_pos INTEGER;
UPDATE members SET left_pos = 0 WHERE active = 0;
CREATE TABLE conversation_events (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    pos             INTEGER NOT NULL,
    body            TEXT,
    message_id      INTEGER,
    PRIMARY KEY (conversation_id, pos),
    CHECK ((body IS NULL) != (message_id IS NULL))
) WITHOUT ROWID;
