-- quid server store on PostgreSQL, schema version 2: full-text search (issue 12). Each
-- message's words, as search::words cuts them, with their positions, as a tsvector that quid
-- writes (PostgreSQL's own parsers would cut words otherwise, and by the server's locale),
-- and a GIN index over it.

ALTER TABLE messages ADD COLUMN words tsvector NOT NULL DEFAULT '';
CREATE INDEX messages_by_word ON messages USING gin (words);
