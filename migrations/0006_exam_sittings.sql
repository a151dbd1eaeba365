-- 0006 (issue #12): exam sittings (场次) and rooms (考场), extra time and
-- resume (rules M1, M2, M3).
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

-- Extra time and resume are invigilator commands, audited like the others.
ALTER TABLE invigilator_actions DROP CONSTRAINT IF EXISTS invigilator_actions_action_check;
ALTER TABLE invigilator_actions ADD CONSTRAINT invigilator_actions_action_check
    CHECK (action IN ('warn', 'end', 'forgive', 'extra_time', 'resume'));
