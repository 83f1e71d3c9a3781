-- quid server store, schema version 1. Applied once by store::open; see store/mod.rs.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    -- The newest seq handed out in this user's event stream.
    last_seq      INTEGER NOT NULL DEFAULT 0
);

-- Session tokens, stored as SHA-256 of the random token: a stolen database reveals no token.
CREATE TABLE tokens (
    token_hash    TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name          TEXT,
    -- 'low:high' user ids of a direct conversation, so there is one per pair.
    direct_key    TEXT UNIQUE,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE members (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    user_id         INTEGER NOT NULL REFERENCES users(id),
    last_read_id    INTEGER NOT NULL DEFAULT 0,
    active          INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_by_user ON members(user_id, active);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    sender_id       INTEGER NOT NULL REFERENCES users(id),
    client_id       TEXT NOT NULL,
    text            TEXT NOT NULL,
    sent_at_ms      INTEGER NOT NULL,
    UNIQUE (sender_id, client_id)
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);

-- Each user's durable event stream; replayed after the seq a client says it holds.
CREATE TABLE events (
    user_id INTEGER NOT NULL REFERENCES users(id),
    seq     INTEGER NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
