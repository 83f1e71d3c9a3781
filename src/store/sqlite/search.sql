-- quid server store, schema version 7: full-text search (issue 12). Each message's words, as
-- search::index_words cuts them (the function quid_words, registered on every connection),
-- indexed by FTS5. Contentless: the index keeps no second copy of the text. The `ascii`
-- tokenizer splits on ASCII spaces and punctuation only, so it keeps quid's words as they are.

CREATE VIRTUAL TABLE message_words USING fts5(
    words,
    content = '',
    contentless_delete = 1,
    tokenize = 'ascii'
);
INSERT INTO message_words (rowid, words) SELECT id, quid_words(text) FROM messages;

CREATE TRIGGER message_words_on_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_words (rowid, words) VALUES (new.id, quid_words(new.text));
END;
