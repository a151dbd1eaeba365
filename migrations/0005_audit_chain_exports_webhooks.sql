-- 0005 (issue #12, H7/M4): the tamper-evident record of each attempt, and webhooks.
-- One hash chain per attempt (proctor/audit_chain.py): the head row is locked
-- by every append, so concurrent writers extend the chain one after another.
CREATE TABLE IF NOT EXISTS audit_chain_heads (
    attempt_id  bigint PRIMARY KEY REFERENCES attempts(id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    hash        text NOT NULL
);
-- Links: hash = sha256(attempt, seq, prev_hash, kind, record_key, content_hash).
CREATE TABLE IF NOT EXISTS audit_chain (
    attempt_id    bigint NOT NULL REFERENCES audit_chain_heads(attempt_id) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    kind          text NOT NULL,
    record_key    text NOT NULL,
    content_hash  text NOT NULL,
    prev_hash     text NOT NULL,
    hash          text NOT NULL,
    PRIMARY KEY (attempt_id, seq)
);

-- ---------------------------------------------------------------- webhooks (exam_api/webhooks.py, webhook_sender.py; rule M4)
-- A receiver an administrator registered: its URL, the secret that signs
-- (HMAC-SHA256; kept to sign, never shown again), the events it wants.
-- Removed = inactive: the record of its deliveries stays.
CREATE TABLE IF NOT EXISTS webhooks (
    id          bigserial PRIMARY KEY,
    url         text NOT NULL,
    secret      text NOT NULL,
    events      text[] NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_by  bigint REFERENCES users(id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- The outbox: written in the transaction of the fact it reports; the sender
-- claims due rows (SKIP LOCKED), posts, and retries with back-off.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id            bigserial PRIMARY KEY,
    delivery_id   text NOT NULL UNIQUE,
    webhook_id    bigint NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event         text NOT NULL,
    payload       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'delivered', 'failed')),
    tries         integer NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    delivered_at  timestamptz,
    last_error    text
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
-- Every try of a delivery and the receiver's answer (or why there was none).
CREATE TABLE IF NOT EXISTS webhook_tries (
    delivery_id  bigint NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    try          integer NOT NULL,
    at           timestamptz NOT NULL,
    status_code  integer,
    error        text,
    response     text,
    duration_ms  integer NOT NULL,
    PRIMARY KEY (delivery_id, try)
);
