-- quid server store, schema version 15: a message's words are indexed once per write batch,
-- after its requests, by the statement store::sqlite::INDEX_NEW_MESSAGES, no longer by a
-- trigger per message: FTS5 writes out its pending words at every savepoint, and the writer
-- opens one per request. An edit still updates the index as it happens (chat.sql).
DROP TRIGGER message_words_on_insert;
