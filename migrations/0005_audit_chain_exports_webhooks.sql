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
