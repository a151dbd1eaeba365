"""Evidence retention: old snapshots swept, shared files kept, every deletion recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from proctor.settings import Settings
from tests.support.rtc_attempts import open_attempt
from webrtc.retention import sweep_expired
from webrtc.snapshot_rows import insert_snapshot
from webrtc.storage import FileSnapshotStore


async def test_sweep_deletes_old_rows_and_only_unshared_files(
    pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    store = FileSnapshotStore(tmp_path / "snapshots")
    attempt = await open_attempt(pool, settings)
    now = datetime.now(UTC)
    shared = store.put(b"\xff\xd8\xff shared picture")
    alone = store.put(b"\xff\xd8\xff old picture")
    async with pool.acquire() as conn:
        # far in the past, so other tests' rows are never in the way
        ancient = now - timedelta(days=3000)
        for blob, taken_at in ((shared, ancient), (shared, now), (alone, ancient)):
            await insert_snapshot(
                conn,
                attempt_id=attempt.id,
                device="pc",
                reason="random",
                taken_at=taken_at,
                blob=blob,
                width=640,
                height=480,
                capture_id=None,
            )
    result = await sweep_expired(pool, store, now, retention_days=2000)
    assert result == {"snapshots": 2, "files": 1}
    assert (store.root / shared.path).exists()  # still used by the recent row
    assert not (store.root / alone.path).exists()
    async with pool.acquire() as conn:
        left = await conn.fetch("SELECT taken_at FROM snapshots WHERE attempt_id = $1", attempt.id)
        audit = await conn.fetchrow(
            "SELECT * FROM evidence_deletions WHERE kind = 'retention' ORDER BY id DESC LIMIT 1"
        )
    assert [r["taken_at"] for r in left] == [now]
    assert audit["snapshots"] == 2 and audit["files"] == 1
    assert "2000 days" in audit["reason"]
    # nothing more to do: a second sweep is a no-op
    assert await sweep_expired(pool, store, now, retention_days=2000) == {
        "snapshots": 0,
        "files": 0,
    }
