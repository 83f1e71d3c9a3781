-- quid server store, schema version 5: sessions a user can list and revoke, a log of revoked
-- tokens that every server process follows to close their live connections, and idempotency
-- keys claimed across request kinds.
-- See store/accounts.rs and server/revocation.rs.

ALTER TABLE tokens ADD COLUMN last_used_at_ms INTEGER;
ALTER TABLE tokens ADD COLUMN last_address TEXT;
CREATE INDEX tokens_by_user ON tokens(user_id);

-- Which kind of request each idempotency key was first used for, per user: a key belongs to
-- one request, so a `pay` key reused for `request_money` is a conflict (see ledger/mod.rs).
CREATE TABLE idempotency_keys (
    user_id         INTEGER NOT NULL REFERENCES users(id),
    idempotency_key TEXT NOT NULL,
    kind            TEXT NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
) WITHOUT ROWID;
INSERT OR IGNORE INTO idempotency_keys (user_id, idempotency_key, kind)
    SELECT initiator_id, idempotency_key,
           CASE kind WHEN 'payment' THEN 'pay' WHEN 'request' THEN 'pay_request'
                     WHEN 'invoice' THEN 'pay_invoice' ELSE kind END
    FROM transfers WHERE initiator_id IS NOT NULL;
INSERT OR IGNORE INTO idempotency_keys (user_id, idempotency_key, kind)
    SELECT requester_id, idempotency_key, 'request_money' FROM payment_requests;
INSERT OR IGNORE INTO idempotency_keys (user_id, idempotency_key, kind)
    SELECT merchant_id, idempotency_key, 'send_invoice' FROM invoices;

CREATE TABLE token_revocations (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT NOT NULL,
    revoked_at_ms INTEGER NOT NULL
);
