-- quid server store, schema version 3: bots and merchants, invoices and refunds.
-- See src/ledger/invoices.rs.

-- A bot logs in with a token made by `quid admin create-bot`; it has no usable password.
ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;
-- A merchant bot's business name, shown to buyers.
ALTER TABLE users ADD COLUMN merchant_name TEXT;

CREATE TABLE invoices (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    merchant_id     INTEGER NOT NULL REFERENCES users(id),
    buyer_id        INTEGER NOT NULL REFERENCES users(id),
    currency        TEXT NOT NULL,
    total_minor     INTEGER NOT NULL CHECK (total_minor > 0),
    -- JSON: [{"name", "quantity", "unit_price_minor"}]; the total is their sum.
    items           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'paid', 'expired')),
    expires_at_ms   INTEGER,
    transfer_id     INTEGER REFERENCES transfers(id),
    -- Refunds can never exceed the payment.
    refunded_minor  INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= total_minor),
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    UNIQUE (merchant_id, idempotency_key)
);
CREATE INDEX invoices_open ON invoices(status, expires_at_ms);
CREATE INDEX invoices_by_buyer ON invoices(buyer_id);
