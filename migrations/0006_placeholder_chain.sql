-- 0006: placeholder on branch contact only; the chain branch owns 0006 (delete this file when merging).
SELECT 1;
