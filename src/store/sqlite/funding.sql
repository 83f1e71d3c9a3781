-- quid server store, schema version 12 (issue 15): money in and out through payment partners.
-- Accounts gain a third kind, a partner's clearing account per currency, which may go below
-- zero like issuance (it stands for what the partner holds for quid); transfers gain top-ups,
-- payouts and returned payouts. SQLite cannot change a CHECK in place, so both tables are
-- rebuilt (foreign keys are off while migrations run; see sqlite.rs).

CREATE TABLE accounts_new (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('wallet', 'issuance', 'clearing')),
    user_id       INTEGER REFERENCES users(id),
    -- A clearing account's partner, as the server's configuration names it.
    provider      TEXT,
    currency      TEXT NOT NULL,
    balance_minor INTEGER NOT NULL DEFAULT 0,
    CHECK (kind != 'wallet' OR balance_minor >= 0),
    CHECK ((kind = 'wallet') = (user_id IS NOT NULL)),
    CHECK ((kind = 'clearing') = (provider IS NOT NULL))
);
INSERT INTO accounts_new (id, kind, user_id, currency, balance_minor)
    SELECT id, kind, user_id, currency, balance_minor FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
CREATE UNIQUE INDEX accounts_wallet ON accounts(user_id, currency) WHERE kind = 'wallet';
CREATE UNIQUE INDEX accounts_issuance ON accounts(currency) WHERE kind = 'issuance';
CREATE UNIQUE INDEX accounts_clearing ON accounts(provider, currency) WHERE kind = 'clearing';

CREATE TABLE transfers_new (
    id              INTEGER PRIMARY KEY,
    initiator_id    INTEGER REFERENCES users(id),
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('payment', 'request', 'mint', 'invoice', 'refund',
                                                  'topup', 'payout', 'payout_return')),
    from_account    INTEGER NOT NULL REFERENCES accounts(id),
    to_account      INTEGER NOT NULL REFERENCES accounts(id),
    amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL,
    memo            TEXT NOT NULL,
    conversation_id INTEGER REFERENCES conversations(id),
    request_id      INTEGER REFERENCES payment_requests(id),
    invoice_id      INTEGER REFERENCES invoices(id),
    created_at_ms   INTEGER NOT NULL,
    CHECK (from_account != to_account),
    UNIQUE (initiator_id, idempotency_key)
);
INSERT INTO transfers_new SELECT * FROM transfers;
DROP TABLE transfers;
ALTER TABLE transfers_new RENAME TO transfers;
CREATE INDEX transfers_by_from ON transfers(from_account, created_at_ms);
CREATE INDEX transfers_by_request ON transfers(request_id);
CREATE INDEX transfers_by_invoice ON transfers(invoice_id);

-- A top-up or a payout: what was asked, what the partner calls it, how it stands.
CREATE TABLE fundings (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('topup', 'payout')),
    user_id            INTEGER NOT NULL REFERENCES users(id),
    provider           TEXT NOT NULL,
    amount_minor       INTEGER NOT NULL CHECK (amount_minor > 0),
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    reason             TEXT NOT NULL DEFAULT '',
    -- The partner's id for it; NULL until the partner has answered its creation.
    provider_ref       TEXT,
    checkout_url       TEXT,
    -- A payout's IBAN, whole: a payout the partner never heard of is created again with it.
    bank_account       TEXT,
    idempotency_key    TEXT NOT NULL,
    fingerprint        TEXT NOT NULL,
    -- A top-up's credit (once succeeded); a payout's debit (from the start).
    transfer_id        INTEGER REFERENCES transfers(id),
    -- A failed payout's money coming back.
    return_transfer_id INTEGER REFERENCES transfers(id),
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    UNIQUE (user_id, idempotency_key),
    UNIQUE (provider, provider_ref)
);
CREATE INDEX fundings_by_user ON fundings(user_id, id);
CREATE INDEX fundings_pending ON fundings(status) WHERE status = 'pending';

-- Every partner event applied, so that each is applied at most once however often it comes.
CREATE TABLE provider_events (
    provider       TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    funding_id     INTEGER NOT NULL REFERENCES fundings(id),
    status         TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
);
