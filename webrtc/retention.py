"""Evidence clean-up: the retention sweep and the administrator's deletion.

Files are content-addressed, so one file may back several rows (the same
picture twice); a file is removed only when no row refers to it any more.
Every deletion writes an ``evidence_deletions`` record: who (an
administrator, or the retention sweep), why, and how much.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from proctor.tasks import cancel_and_wait, run_every
from webrtc.storage import SnapshotStore

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 3600.0
SWEEP_BATCH = 1000


async def _delete_rows(conn: Any, where: str, *args: Any) -> list[str]:
    """Delete snapshot rows; return digests no longer referenced by any row."""
    rows = await conn.fetch(f"DELETE FROM snapshots WHERE {where} RETURNING sha256", *args)
    digests = sorted({r["sha256"] for r in rows})
    if not digests:
        return []
    still_used = await conn.fetch(
        "SELECT DISTINCT sha256 FROM snapshots WHERE sha256 = ANY($1::text[])", digests
    )
    used = {r["sha256"] for r in still_used}
    return [d for d in digests if d not in used]


async def delete_attempt_evidence(
    pool: asyncpg.Pool, store: SnapshotStore, attempt_id: int, admin_id: int, reason: str
) -> dict[str, int]:
    """An administrator deletes every snapshot of an attempt (audited)."""
    if not reason.strip():
        raise ValueError("an audited deletion needs a reason")
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchval(
            "SELECT count(*) FROM snapshots WHERE attempt_id = $1", attempt_id
        )
        orphans = await _delete_rows(conn, "attempt_id = $1", attempt_id)
        await conn.execute(
            """INSERT INTO evidence_deletions (attempt_id, kind, deleted_by, reason, snapshots, files)
               VALUES ($1, 'admin', $2, $3, $4, $5)""",
            attempt_id,
            admin_id,
            reason,
            count,
            len(orphans),
        )
    removed = await asyncio.to_thread(_remove_files, store, orphans)
    return {"snapshots": int(count), "files": removed}


async def sweep_expired(
    pool: asyncpg.Pool, store: SnapshotStore, now: datetime, retention_days: int
) -> dict[str, int]:
    """Delete snapshots taken before ``now - retention_days`` (one batch)."""
    cutoff = now - timedelta(days=retention_days)
    async with pool.acquire() as conn, conn.transaction():
        ids = await conn.fetch(
            "SELECT id FROM snapshots WHERE taken_at < $1 ORDER BY taken_at LIMIT $2",
            cutoff,
            SWEEP_BATCH,
        )
        if not ids:
            return {"snapshots": 0, "files": 0}
        orphans = await _delete_rows(conn, "id = ANY($1::bigint[])", [r["id"] for r in ids])
        await conn.execute(
            """INSERT INTO evidence_deletions (attempt_id, kind, deleted_by, reason, snapshots, files)
               VALUES (NULL, 'retention', NULL, $1, $2, $3)""",
            f"older than {retention_days} days (before {cutoff.isoformat()})",
            len(ids),
            len(orphans),
        )
    removed = await asyncio.to_thread(_remove_files, store, orphans)
    return {"snapshots": len(ids), "files": removed}


def _remove_files(store: SnapshotStore, digests: list[str]) -> int:
    return sum(1 for d in digests if store.delete(d))


class RetentionSweeper:
    """Runs :func:`sweep_expired` every hour; start/stop like every component."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        store: SnapshotStore,
        retention_days: int,
        now: Callable[[], datetime],
    ) -> None:
        self._pool = pool
        self._store = store
        self._days = retention_days
        self._now = now
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        assert self._task is None
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _sweep(self) -> None:
        # full batches mean more is due: sweep again at once
        while (await sweep_expired(self._pool, self._store, self._now(), self._days))[
            "snapshots"
        ] == SWEEP_BATCH:
            pass

    async def _run(self) -> None:
        await run_every(self._sweep, SWEEP_EVERY_S, log, "evidence retention sweep")
