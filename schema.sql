-- Proctor hub: the one schema, as a whole to read. Changes are versioned
-- migrations (migrations/NNNN_*.sql, applied in order by proctor/migrate.py
-- and recorded in schema_migrations); this file is kept equal to their
-- result, checked by tests/proctor/test_migrations.py.

-- ---------------------------------------------------------------- accounts
CREATE TABLE IF NOT EXISTS users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('candidate', 'reviewer', 'invigilator', 'admin')),
    real_name     text NOT NULL DEFAULT '',
    id_card       text,
    phone         text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS web_sessions (
    token_hash  bytea PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_user ON web_sessions (user_id);

-- ---------------------------------------------------------------- accounts: captcha, SMS, rate limits (exam_api/captcha.py, sms.py, ratelimit.py)
CREATE TABLE IF NOT EXISTS captchas (
    id           text PRIMARY KEY,
    answer_hash  text NOT NULL,
    expires_at   timestamptz NOT NULL
);

-- Rule A4: the development SMS sender writes here instead of a network.
CREATE TABLE IF NOT EXISTS sms_outbox (
    id       bigserial PRIMARY KEY,
    phone    text NOT NULL,
    purpose  text NOT NULL,
    body     text NOT NULL,
    sent_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_outbox_phone ON sms_outbox (phone, id);

CREATE TABLE IF NOT EXISTS sms_codes (
    id          text PRIMARY KEY,
    phone       text NOT NULL,
    purpose     text NOT NULL CHECK (purpose IN ('login', 'register', 'reset')),
    user_id     bigint REFERENCES users(id) ON DELETE CASCADE,
    code_hash   text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    guesses     integer NOT NULL DEFAULT 0,
    used_at     timestamptz
);
CREATE INDEX IF NOT EXISTS sms_codes_expires ON sms_codes (expires_at);

CREATE TABLE IF NOT EXISTS rate_hits (
    name          text NOT NULL,
    subject       text NOT NULL,
    window_index  bigint NOT NULL,
    hits          integer NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (name, subject, window_index)
);
CREATE INDEX IF NOT EXISTS rate_hits_expires ON rate_hits (expires_at);

CREATE INDEX IF NOT EXISTS users_phone ON users (phone);
-- Issue #9: one account per ID-card number, also under concurrent registrations
-- (migration 0003 refuses a database that already holds duplicates).
CREATE UNIQUE INDEX IF NOT EXISTS users_id_card_unique ON users (id_card)
    WHERE id_card IS NOT NULL;

-- ---------------------------------------------------------------- exam requests and review (exam_api/requests.py, review.py, training.py)
-- Rule B7: training hours and category by ID-card number, imported from the training system.
CREATE TABLE IF NOT EXISTS training_records (
    id_card       text PRIMARY KEY,
    real_name     text NOT NULL,
    category      text NOT NULL CHECK (category IN ('A', 'B', 'C1', 'C2')),
    hours         numeric(7, 1) NOT NULL CHECK (hours >= 0),
    company_name  text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Rule B4: documents kept under data_dir/uploads with random names.
CREATE TABLE IF NOT EXISTS uploads (
    id             bigserial PRIMARY KEY,
    owner_id       bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('jpg', 'png', 'pdf')),
    original_name  text NOT NULL,
    relpath        text NOT NULL UNIQUE,
    sha256         text NOT NULL,
    size           integer NOT NULL,
    width          integer,
    height         integer,
    created_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_owner ON uploads (owner_id);

CREATE TABLE IF NOT EXISTS exam_requests (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    candidate_type  text NOT NULL CHECK (candidate_type IN ('social', 'non_social')),
    category        text NOT NULL CHECK (category IN ('A', 'B', 'C1', 'C2')),
    training_hours  numeric(7, 1),
    real_name       text NOT NULL,
    id_card         text NOT NULL,
    gender          text NOT NULL CHECK (gender IN ('male', 'female')),
    phone           text NOT NULL,
    company_name    text NOT NULL,
    company_uscc    text NOT NULL,
    position        text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    reason          text,
    submitted_at    timestamptz NOT NULL,
    decided_at      timestamptz,
    decided_by      bigint REFERENCES users(id)
);
CREATE INDEX IF NOT EXISTS exam_requests_user ON exam_requests (user_id, id DESC);
CREATE INDEX IF NOT EXISTS exam_requests_pending ON exam_requests (submitted_at) WHERE status = 'pending';
-- At most one open (pending or approved) request per candidate.
CREATE UNIQUE INDEX IF NOT EXISTS exam_requests_one_open ON exam_requests (user_id)
    WHERE status IN ('pending', 'approved');

CREATE TABLE IF NOT EXISTS exam_request_documents (
    request_id  bigint NOT NULL REFERENCES exam_requests(id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('commitment_letter', 'study_proof', 'id_photo')),
    upload_id   bigint NOT NULL REFERENCES uploads(id),
    PRIMARY KEY (request_id, role)
);

-- Rule B6: every decision audited (who, when, what, from where).
CREATE TABLE IF NOT EXISTS review_audit (
    id              bigserial PRIMARY KEY,
    request_id      bigint NOT NULL REFERENCES exam_requests(id) ON DELETE CASCADE,
    reviewer_id     bigint NOT NULL REFERENCES users(id),
    decision        text NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason          text,
    decided_at      timestamptz NOT NULL,
    client_address  text
);
CREATE INDEX IF NOT EXISTS review_audit_request ON review_audit (request_id, id);

-- ---------------------------------------------------------------- classes and papers
CREATE TABLE IF NOT EXISTS classes (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS class_members (
    class_id  bigint NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (class_id, user_id)
);

CREATE TABLE IF NOT EXISTS papers (
    id            bigserial PRIMARY KEY,
    class_id      bigint NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('mock', 'formal')),
    title         text NOT NULL,
    time_limit_s  integer NOT NULL CHECK (time_limit_s > 0),
    opens_at      timestamptz,
    closes_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS papers_class ON papers (class_id);

-- ---------------------------------------------------------------- attempts
CREATE TABLE IF NOT EXISTS attempts (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users(id),
    paper_id     bigint NOT NULL REFERENCES papers(id),
    status       text NOT NULL DEFAULT 'in_progress'
                 CHECK (status IN ('in_progress', 'ended')),
    started_at   timestamptz NOT NULL,
    deadline_at  timestamptz NOT NULL,
    ended_at     timestamptz,
    end_reason   text,
    score        numeric(6, 2),
    violations   integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS attempts_user ON attempts (user_id);
CREATE INDEX IF NOT EXISTS attempts_open_deadline ON attempts (deadline_at) WHERE status = 'in_progress';

-- Telemetry copied from the attempt's Redis stream by the persistence worker;
-- the stream entry id makes the copy idempotent (at-least-once delivery).
CREATE TABLE IF NOT EXISTS attempt_events (
    attempt_id  bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    stream_id   text NOT NULL,
    device      text NOT NULL,
    kind        text NOT NULL,
    at          timestamptz NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (attempt_id, stream_id)
);

-- ---------------------------------------------------------------- hub: violations (rules E3, H3)
-- Written by the hub before the client's event is acknowledged; one row per
-- counted switch away, upserted again when its duration becomes known.
CREATE TABLE IF NOT EXISTS attempt_violations (
    attempt_id   bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    idx          integer NOT NULL,
    kind         text NOT NULL,
    causes       text[] NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    duration_s   double precision NOT NULL DEFAULT 0,
    forgiven_by  bigint REFERENCES users(id),
    PRIMARY KEY (attempt_id, idx)
);

-- ---------------------------------------------------------------- evidence
CREATE TABLE IF NOT EXISTS snapshots (
    id          bigserial PRIMARY KEY,
    attempt_id  bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    device      text NOT NULL CHECK (device IN ('pc', 'phone', 'screen')),
    reason      text NOT NULL,
    taken_at    timestamptz NOT NULL,
    sha256      text NOT NULL,
    path        text NOT NULL,
    width       integer,
    height      integer,
    faces       integer
);
CREATE INDEX IF NOT EXISTS snapshots_attempt ON snapshots (attempt_id, taken_at);
-- webrtc: a PC frame and the phone photo taken for the same moment share a
-- capture_id (rule E2); faces: NULL unknown, 0 none, 1 one, 2+ several (H6).
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS capture_id text;
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS size_bytes integer;
-- rule H10: a violation's dual snapshot is linked to it by index, not by time
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS violation_idx integer;
CREATE INDEX IF NOT EXISTS snapshots_violation ON snapshots (attempt_id, violation_idx)
    WHERE violation_idx IS NOT NULL;
CREATE INDEX IF NOT EXISTS snapshots_capture ON snapshots (capture_id) WHERE capture_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS snapshots_sha256 ON snapshots (sha256);
CREATE INDEX IF NOT EXISTS snapshots_taken_at ON snapshots (taken_at);
-- Every deletion of evidence: an administrator's (audited, with a reason) or
-- the retention sweep's. No foreign keys: the record outlives what it deleted.
CREATE TABLE IF NOT EXISTS evidence_deletions (
    id          bigserial PRIMARY KEY,
    attempt_id  bigint,
    kind        text NOT NULL CHECK (kind IN ('admin', 'retention')),
    deleted_by  bigint,
    reason      text NOT NULL,
    snapshots   integer NOT NULL,
    files       integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    -- 0009 (rule K2): which kind of evidence, and the recording segments removed
    evidence    text NOT NULL DEFAULT 'snapshots',
    recordings  integer NOT NULL DEFAULT 0
);
-- 0009 (rule K1): one segment file of an attempt's recording (the PC camera or
-- the screen, received VP8 frames copied into WebM without decoding); path
-- is its key in the evidence store.
CREATE TABLE IF NOT EXISTS recording_segments (
    id          bigserial PRIMARY KEY,
    attempt_id  bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    track       text NOT NULL CHECK (track IN ('camera', 'screen')),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz NOT NULL,
    path        text NOT NULL UNIQUE,
    size_bytes  bigint NOT NULL,
    frames      integer NOT NULL,
    width       integer,
    height      integer
);
CREATE INDEX IF NOT EXISTS recording_segments_attempt
    ON recording_segments (attempt_id, track, started_at);
CREATE INDEX IF NOT EXISTS recording_segments_ended ON recording_segments (ended_at);

-- ---------------------------------------------------------------- question banks, paper questions, answers, results (papers helper)
CREATE TABLE IF NOT EXISTS question_banks (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- kind/options/answer follow exam_api/question_rules.py: answer is "B",
-- ["A","C"] or true/false; fingerprint = sha256(kind, stem, options) makes
-- re-imports of the same file add nothing.
CREATE TABLE IF NOT EXISTS questions (
    id           bigserial PRIMARY KEY,
    bank_id      bigint NOT NULL REFERENCES question_banks(id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('single', 'multiple', 'truefalse')),
    stem         text NOT NULL,
    options      jsonb NOT NULL,
    answer       jsonb NOT NULL,
    points       numeric(5, 1) NOT NULL CHECK (points > 0),
    explanation  text NOT NULL DEFAULT '',
    fingerprint  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bank_id, fingerprint)
);

CREATE TABLE IF NOT EXISTS paper_questions (
    paper_id     bigint NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    question_id  bigint NOT NULL REFERENCES questions(id),
    position     integer NOT NULL,
    PRIMARY KEY (paper_id, question_id)
);
CREATE INDEX IF NOT EXISTS paper_questions_question ON paper_questions (question_id);

-- Scoring (exam_api/ending.py) and the F2 outcome: mock_done | failed | under_review | passed.
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS points_earned numeric(7, 1);
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS points_total numeric(7, 1);
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS outcome text;
CREATE INDEX IF NOT EXISTS attempts_paper ON attempts (paper_id, user_id);
CREATE INDEX IF NOT EXISTS attempts_under_review ON attempts (ended_at) WHERE outcome = 'under_review';

-- Rule E7: one row per answered question, committed before the 200; rev
-- orders a client's retries so a late older write never wins.
CREATE TABLE IF NOT EXISTS attempt_answers (
    attempt_id   bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    question_id  bigint NOT NULL REFERENCES questions(id),
    answer       jsonb,
    rev          integer NOT NULL,
    saved_at     timestamptz NOT NULL,
    PRIMARY KEY (attempt_id, question_id)
);

-- Rule F2: the reviewer's decision on a passing attempt, once, audited.
CREATE TABLE IF NOT EXISTS result_reviews (
    attempt_id   bigint PRIMARY KEY REFERENCES attempts(id) ON DELETE CASCADE,
    reviewer_id  bigint NOT NULL REFERENCES users(id),
    decision     text NOT NULL CHECK (decision IN ('passed', 'failed')),
    reason       text NOT NULL DEFAULT '',
    decided_at   timestamptz NOT NULL
);

-- ---------------------------------------------------------------- invigilation (exam_api/assignments.py, invigilation.py; rules G5, H3, H4)
-- Exam rooms are classes: an invigilator watches the attempts of the classes assigned to them.
CREATE TABLE IF NOT EXISTS invigilator_assignments (
    class_id     bigint NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (class_id, user_id)
);
CREATE INDEX IF NOT EXISTS invigilator_assignments_user ON invigilator_assignments (user_id);
-- Every command an invigilator gives an attempt: who, when, what, why (rule H3, H4).
CREATE TABLE IF NOT EXISTS invigilator_actions (
    id          bigserial PRIMARY KEY,
    attempt_id  bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users(id),
    action      text NOT NULL CHECK (action IN ('warn', 'end', 'forgive', 'extra_time', 'resume', 'admit', 'refuse')),
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    reason      text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS invigilator_actions_attempt ON invigilator_actions (attempt_id, id);

-- ---------------------------------------------------------------- single sign-on (exam_api/oidc_logins.py, sso_links.py)
-- A sign-in under way at the province's SSO: state, nonce and PKCE verifier
-- stay on the server; the browser carries only the state (and a cookie that
-- binds the flow to it). Short-lived and single use: taken by DELETE … RETURNING.
CREATE TABLE IF NOT EXISTS oidc_logins (
    state_hash     bytea PRIMARY KEY,
    browser_hash   bytea NOT NULL,
    nonce          text NOT NULL,
    code_verifier  text NOT NULL,
    next_path      text,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS oidc_logins_expires ON oidc_logins (expires_at);

-- Who a person is at an SSO (issuer + subject) and which account that is.
CREATE TABLE IF NOT EXISTS sso_links (
    issuer         text NOT NULL,
    subject        text NOT NULL,
    user_id        bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    linked_at      timestamptz NOT NULL,
    last_login_at  timestamptz NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX IF NOT EXISTS sso_links_user ON sso_links (user_id);

-- A browser session that began at the SSO: the ID token is the hint of the
-- provider's logout (end_session_endpoint); it ends with the session.
CREATE TABLE IF NOT EXISTS sso_sessions (
    token_hash  bytea PRIMARY KEY REFERENCES web_sessions(token_hash) ON DELETE CASCADE,
    issuer      text NOT NULL,
    id_token    text NOT NULL
);
-- One SSO account per account and issuer: two subjects never share a candidate.
CREATE UNIQUE INDEX IF NOT EXISTS sso_links_issuer_user ON sso_links (issuer, user_id);

-- ---------------------------------------------------------------- the tamper-evident record (proctor/audit_chain.py; rule H7)
-- One hash chain per attempt: the head row is locked by every append, so
-- concurrent writers extend the chain one after another.
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
-- ---------------------------------------------------------------- exam sittings and rooms (exam_api/sittings.py, rooms.py, extra_time.py; rules M1–M3)
-- A sitting of a paper: when it starts and ends, until when a late candidate
-- may still enter, how long before the start the identity check opens, and
-- how many candidates it takes. Candidates are assigned by an administrator.
CREATE TABLE IF NOT EXISTS exam_sittings (
    id            bigserial PRIMARY KEY,
    paper_id      bigint NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    title         text NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    late_entry_s  integer NOT NULL CHECK (late_entry_s >= 0),
    checkin_s     integer NOT NULL CHECK (checkin_s >= 0),
    capacity      integer NOT NULL CHECK (capacity > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX IF NOT EXISTS exam_sittings_paper ON exam_sittings (paper_id, starts_at);
CREATE INDEX IF NOT EXISTS exam_sittings_starts ON exam_sittings (starts_at);

-- A room of a sitting: at most 30 candidates, one invigilator, who holds at
-- most one room of a sitting.
CREATE TABLE IF NOT EXISTS sitting_rooms (
    id              bigserial PRIMARY KEY,
    sitting_id      bigint NOT NULL REFERENCES exam_sittings(id) ON DELETE CASCADE,
    name            text NOT NULL,
    invigilator_id  bigint REFERENCES users(id) ON DELETE SET NULL,
    UNIQUE (sitting_id, name)
);
CREATE UNIQUE INDEX IF NOT EXISTS sitting_rooms_one_per_invigilator
    ON sitting_rooms (sitting_id, invigilator_id) WHERE invigilator_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sitting_rooms_invigilator ON sitting_rooms (invigilator_id);

-- A candidate in a sitting (one sitting per paper) and, once placed, a room.
CREATE TABLE IF NOT EXISTS sitting_candidates (
    sitting_id   bigint NOT NULL REFERENCES exam_sittings(id) ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    paper_id     bigint NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    room_id      bigint REFERENCES sitting_rooms(id) ON DELETE SET NULL,
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sitting_id, user_id),
    UNIQUE (paper_id, user_id)
);
CREATE INDEX IF NOT EXISTS sitting_candidates_room ON sitting_candidates (room_id);
CREATE INDEX IF NOT EXISTS sitting_candidates_user ON sitting_candidates (user_id);

-- The sitting an attempt was sat in (NULL: a paper without sittings).
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS sitting_id bigint REFERENCES exam_sittings(id);
CREATE INDEX IF NOT EXISTS attempts_sitting ON attempts (sitting_id) WHERE sitting_id IS NOT NULL;

-- ---------------------------------------------------------------- identity (rules I1–I3, migration 0008)
-- The face descriptor of an uploaded ID photo, computed once on upload (rule I1).
CREATE TABLE IF NOT EXISTS face_references (
    upload_id   bigint PRIMARY KEY REFERENCES uploads(id) ON DELETE CASCADE,
    descriptor  real[] NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Rules I2, I3: each PC frame compared with the candidate: same / other /
-- nobody / several / unclear / no_reference, and the descriptor distance.
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS face_match text;
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS face_distance real;

-- Rule I2: the face check before answering, one row per attempt.
CREATE TABLE IF NOT EXISTS identity_checks (
    attempt_id  bigint PRIMARY KEY REFERENCES attempts(id) ON DELETE CASCADE,
    state       text NOT NULL CHECK (state IN ('checking', 'passed', 'waiting', 'admitted', 'refused')),
    tries       integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL
);
-- Each try: the capture the server ordered, and what its frame showed.
CREATE TABLE IF NOT EXISTS identity_tries (
    attempt_id    bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    n             integer NOT NULL,
    capture_id    text NOT NULL,
    requested_at  timestamptz NOT NULL,
    outcome       text,
    distance      real,
    snapshot_id   bigint REFERENCES snapshots(id) ON DELETE SET NULL,
    PRIMARY KEY (attempt_id, n)
);

-- ---------------------------------------------------------------- contact (hub/contact.py, exam_api/contact.py; rule L1)
CREATE TABLE IF NOT EXISTS contact_messages (
    id          bigserial PRIMARY KEY,
    attempt_id  bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    idx         integer NOT NULL CHECK (idx >= 1),
    sender      text NOT NULL CHECK (sender IN ('candidate', 'invigilator')),
    kind        text NOT NULL CHECK (kind IN ('text', 'call', 'answered')),
    scope       text NOT NULL DEFAULT 'attempt' CHECK (scope IN ('attempt', 'room')),
    device      text CHECK (device IN ('pc', 'phone')),
    client_id   text CHECK (char_length(client_id) <= 40),
    user_id     bigint REFERENCES users(id),
    broadcast   text CHECK (char_length(broadcast) <= 40),
    body        text NOT NULL CHECK (char_length(body) <= 500),
    created_at  timestamptz NOT NULL,
    UNIQUE (attempt_id, idx),
    UNIQUE (attempt_id, device, client_id),
    CHECK ((sender = 'candidate') = (device IS NOT NULL AND user_id IS NULL)),
    CHECK (kind <> 'call' OR sender = 'candidate'),
    CHECK (kind <> 'answered' OR sender = 'invigilator')
);
CREATE INDEX IF NOT EXISTS contact_messages_sender_time ON contact_messages (user_id, created_at)
    WHERE user_id IS NOT NULL;

-- What each device of an attempt has acknowledged: the highest idx it holds
-- with nothing missing below. A reconnecting device gets everything after it.
CREATE TABLE IF NOT EXISTS contact_cursors (
    attempt_id  bigint NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    device      text NOT NULL CHECK (device IN ('pc', 'phone')),
    delivered   integer NOT NULL DEFAULT 0 CHECK (delivered >= 0),
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (attempt_id, device)
);

-- The invigilators' preset texts (at most 20, kept by administrators).
CREATE TABLE IF NOT EXISTS contact_presets (
    position    integer PRIMARY KEY CHECK (position BETWEEN 1 AND 20),
    body        text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 200),
    updated_by  bigint REFERENCES users(id),
    updated_at  timestamptz NOT NULL
);
-- The first presets; administrators edit them (PUT /api/admin/contact/presets).
INSERT INTO contact_presets (position, body, updated_at) VALUES
    (1, '请保持端正坐姿，面部完整出现在摄像头画面中。', now()),
    (2, '请将手机摆放在身体侧后方，使画面能拍到您本人、电脑屏幕和桌面。', now()),
    (3, '请勿离开考试页面，切屏将被记录为违规。', now()),
    (4, '已收到，请稍候，监考员正在处理。', now()),
    (5, '考试剩余时间不多，请抓紧时间作答并及时交卷。', now())
ON CONFLICT (position) DO NOTHING;
