-- 0007: a placeholder kept only on branch `identity` so that its 0008 applies
-- (proctor/migrate.py refuses a gap). Another branch owns the real 0007: at
-- the merge, drop this file and keep theirs.
SELECT 1;
