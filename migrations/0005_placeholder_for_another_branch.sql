-- 0005: a placeholder kept only on branch `sittings` so that its 0006 applies
-- (proctor/migrate.py refuses a gap). Another branch owns the real 0005: at
-- the merge, drop this file and keep theirs.
SELECT 1;
