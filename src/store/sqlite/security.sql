-- quid server store, schema version 4: wrong payment PINs are counted and lock payments
-- for a while, so a PIN cannot be guessed by trying them all. See store/accounts.rs.

ALTER TABLE users ADD COLUMN pin_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN pin_locked_until_ms INTEGER;
