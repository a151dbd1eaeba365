-- 0005: placeholder on branch contact only; the sittings branch owns 0005 (delete this file when merging).
SELECT 1;
