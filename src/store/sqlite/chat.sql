-- quid server store, schema version 8 (issue 12): replies, edits, deletes, reactions. A
-- deleted message keeps its row (a tombstone, text emptied) so that replies to it and the
-- events that name it still find it. Edits and deletes re-index the text (search.sql).

ALTER TABLE messages ADD COLUMN reply_to_id INTEGER REFERENCES messages(id);
ALTER TABLE messages ADD COLUMN edited_at_ms INTEGER;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    emoji      TEXT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
) WITHOUT ROWID;

CREATE TRIGGER message_words_on_update AFTER UPDATE OF text ON messages BEGIN
    UPDATE message_words SET words = quid_words(new.text) WHERE rowid = new.id;
END;
