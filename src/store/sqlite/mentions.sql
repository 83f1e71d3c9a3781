-- quid server store, schema version 9 (issue 12): mentions and mute. A message's @names that
-- were members of its conversation when it was sent (or last edited) are kept, so that each
-- member's unread mentions can be counted; a member may mute a conversation.

ALTER TABLE members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE mentions (
    user_id    INTEGER NOT NULL REFERENCES users(id),
    message_id INTEGER NOT NULL REFERENCES messages(id),
    PRIMARY KEY (user_id, message_id)
) WITHOUT ROWID;
CREATE INDEX mentions_by_message ON mentions(message_id);
