-- 0008 (issue #11, rules I1–I3): face verification against the ID photo.
-- The ID photo (证件照) is a document of the exam request.
ALTER TABLE exam_request_documents DROP CONSTRAINT IF EXISTS exam_request_documents_role_check;
ALTER TABLE exam_request_documents ADD CONSTRAINT exam_request_documents_role_check
    CHECK (role IN ('commitment_letter', 'study_proof', 'id_photo'));

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

-- An invigilator admits or refuses a candidate the face check did not pass (audited).
ALTER TABLE invigilator_actions DROP CONSTRAINT IF EXISTS invigilator_actions_action_check;
ALTER TABLE invigilator_actions ADD CONSTRAINT invigilator_actions_action_check
    CHECK (action IN ('warn', 'end', 'forgive', 'extra_time', 'resume', 'admit', 'refuse'));
