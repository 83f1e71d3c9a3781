-- quid server store, schema version 2: the wallet ledger. See src/ledger/mod.rs for the
-- invariants these tables keep and `quid admin check-ledger` for their verification.

ALTER TABLE users ADD COLUMN pin_hash TEXT;

-- A message may be a card: a payment ('payment', transfer id) or a request ('request', request id).
ALTER TABLE messages ADD COLUMN card_kind TEXT;
ALTER TABLE messages ADD COLUMN card_ref INTEGER;

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('wallet', 'issuance')),
    user_id       INTEGER REFERENCES users(id),
    currency      TEXT NOT NULL,
    -- Derived from entries and kept in the same transaction; check-ledger compares the two.
    balance_minor INTEGER NOT NULL DEFAULT 0,
    -- The last line of defence: a wallet can never be negative, whatever the code above says.
    CHECK (kind = 'issuance' OR balance_minor >= 0),
    CHECK ((kind = 'wallet') = (user_id IS NOT NULL))
);
CREATE UNIQUE INDEX accounts_wallet ON accounts(user_id, currency) WHERE kind = 'wallet';
CREATE UNIQUE INDEX accounts_issuance ON accounts(currency) WHERE kind = 'issuance';

CREATE TABLE payment_requests (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    requester_id    INTEGER NOT NULL REFERENCES users(id),
    payer_id        INTEGER NOT NULL REFERENCES users(id),
    amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL,
    memo            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'paid', 'declined', 'cancelled', 'expired')),
    expires_at_ms   INTEGER,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    transfer_id     INTEGER REFERENCES transfers(id),
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    UNIQUE (requester_id, idempotency_key)
);
CREATE INDEX payment_requests_open ON payment_requests(status, expires_at_ms);

CREATE TABLE transfers (
    id              INTEGER PRIMARY KEY,
    -- Who asked for it; NULL for a mint. Keys are unique per initiator.
    initiator_id    INTEGER REFERENCES users(id),
    idempotency_key TEXT NOT NULL,
    -- What the request asked for, to tell a retry from a conflicting reuse of the key.
    fingerprint     TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('payment', 'request', 'mint', 'invoice', 'refund')),
    from_account    INTEGER NOT NULL REFERENCES accounts(id),
    to_account      INTEGER NOT NULL REFERENCES accounts(id),
    amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL,
    memo            TEXT NOT NULL,
    conversation_id INTEGER REFERENCES conversations(id),
    request_id      INTEGER REFERENCES payment_requests(id),
    -- The invoice a payment ('invoice') or refund ('refund') is for; the table comes in version 3.
    invoice_id      INTEGER REFERENCES invoices(id),
    created_at_ms   INTEGER NOT NULL,
    CHECK (from_account != to_account),
    UNIQUE (initiator_id, idempotency_key)
);
CREATE INDEX transfers_by_from ON transfers(from_account, created_at_ms);
CREATE INDEX transfers_by_request ON transfers(request_id);
CREATE INDEX transfers_by_invoice ON transfers(invoice_id);

-- Double entry: every transfer writes one debit (negative) and one credit (positive).
CREATE TABLE entries (
    id           INTEGER PRIMARY KEY,
    transfer_id  INTEGER NOT NULL REFERENCES transfers(id),
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor != 0)
);
CREATE INDEX entries_by_account ON entries(account_id, id);
CREATE INDEX entries_by_transfer ON entries(transfer_id);
