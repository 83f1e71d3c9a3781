-- The PIN lock escalates: how many times payments were locked since the last right PIN.
ALTER TABLE users ADD COLUMN pin_locks INTEGER NOT NULL DEFAULT 0;
