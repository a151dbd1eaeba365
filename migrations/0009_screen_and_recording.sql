-- 0009 (issue #11): the screen share's frames in snapshots (rule J2), the
-- recording's segment files (rule K1), and what a deletion removed (rule K2).
ALTER TABLE snapshots DROP CONSTRAINT IF EXISTS snapshots_device_check;
ALTER TABLE snapshots ADD CONSTRAINT snapshots_device_check
    CHECK (device IN ('pc', 'phone', 'screen'));

-- One segment file of an attempt's recording: the PC camera or the screen,
-- received VP8 frames copied into WebM without decoding; path is its key in
-- the evidence store.
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

-- rule K2: which kind of evidence a deletion removed, and its segments
ALTER TABLE evidence_deletions ADD COLUMN IF NOT EXISTS evidence text NOT NULL DEFAULT 'snapshots';
ALTER TABLE evidence_deletions ADD COLUMN IF NOT EXISTS recordings integer NOT NULL DEFAULT 0;
