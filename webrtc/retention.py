"""Evidence clean-up: the retention sweep and the administrator's deletion.

Rule K2: a configured retention per kind of evidence (:class:`RetentionPolicy`,
``proctor/evidence_settings.py``): snapshots and photos, recordings,
documents, decisions. The sweep deletes expired snapshots and recording
segments (the evidence the ingest stores); documents and decisions are
kept long (6 years by default) and only *reported* when expired
(:func:`retention_report`, ``proctor retention report``): deleting an exam
decision is an administrator's act, not a timer's.

Files are content-addressed, so one file may back several rows (the same
picture twice); a file is removed only when no row refers to it any more.
Every deletion writes an ``evidence_deletions`` record: who (an
administrator, or the retention sweep), why, which kind, and how much.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from proctor.settings import Settings
from proctor.tasks import cancel_and_wait, run_every
from webrtc.object_store import ObjectStore
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
    pool: asyncpg.Pool,
    store: SnapshotStore,
    attempt_id: int,
    admin_id: int,
    reason: str,
    objects: ObjectStore | None = None,
) -> dict[str, int]:
    """An administrator deletes every snapshot of an attempt and, with
    ``objects`` (the evidence store), its recording (audited)."""
    if not reason.strip():
        raise ValueError("an audited deletion needs a reason")
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchval(
            "SELECT count(*) FROM snapshots WHERE attempt_id = $1", attempt_id
        )
        orphans = await _delete_rows(conn, "attempt_id = $1", attempt_id)
        segments: list[str] = []
        if objects is not None:
            segments = await _delete_segments(conn, "attempt_id = $1", attempt_id)
        await conn.execute(
            """INSERT INTO evidence_deletions
                   (attempt_id, kind, deleted_by, reason, snapshots, files, evidence, recordings)
               VALUES ($1, 'admin', $2, $3, $4, $5, $6, $7)""",
            attempt_id,
            admin_id,
            reason,
            count,
            len(orphans),
            "snapshots,recordings" if objects is not None else "snapshots",
            len(segments),
        )
    removed = await asyncio.to_thread(_remove_files, store, orphans)
    if objects is not None:
        removed += await asyncio.to_thread(_remove_objects, objects, segments)
    return {"snapshots": int(count), "recordings": len(segments), "files": removed}


async def _delete_segments(conn: Any, where: str, *args: Any) -> list[str]:
    """Delete recording segment rows; return their keys in the evidence store."""
    rows = await conn.fetch(f"DELETE FROM recording_segments WHERE {where} RETURNING path", *args)
    return [r["path"] for r in rows]


def _remove_objects(objects: ObjectStore, keys: list[str]) -> int:
    return sum(1 for key in keys if objects.delete(key))


async def sweep_expired(
    pool: asyncpg.Pool, store: SnapshotStore, now: datetime, retention_days: int
) -> dict[str, int]:
    """Delete snapshots taken before ``now - retention_days`` (one batch)."""
    cutoff = now - timedelta(days=retention_days)
    reason = f"older than {retention_days} days (before {cutoff.isoformat()})"
    deleted, orphans = await _sweep_batch(pool, "snapshots", cutoff, reason)
    removed = await asyncio.to_thread(_remove_files, store, orphans)
    return {"snapshots": deleted, "files": removed}


async def _sweep_batch(
    pool: asyncpg.Pool, kind: str, cutoff: datetime, reason: str
) -> tuple[int, list[str]]:
    """One transaction of the sweep: the oldest rows of ``kind`` (one of
    ``SWEPT``) from before ``cutoff``, at most ``SWEEP_BATCH``, deleted, and
    the retention's ``evidence_deletions`` record if there were any. Returns
    the rows deleted and the files (digests or keys) no row refers to any more."""
    assert kind in SWEPT, kind
    table, at, _ = _REPORTED[kind]
    delete = _delete_rows if kind == "snapshots" else _delete_segments
    async with pool.acquire() as conn, conn.transaction():
        ids = await conn.fetch(
            f"SELECT id FROM {table} WHERE {at} < $1 ORDER BY {at} LIMIT $2", cutoff, SWEEP_BATCH
        )
        if not ids:
            return 0, []
        files = await delete(conn, "id = ANY($1::bigint[])", [r["id"] for r in ids])
        await conn.execute(
            """INSERT INTO evidence_deletions
                   (attempt_id, kind, deleted_by, reason, snapshots, files, evidence, recordings)
               VALUES (NULL, 'retention', NULL, $1, $2, $3, $4, $5)""",
            reason,
            len(ids) if kind == "snapshots" else 0,
            len(files),
            kind,
            len(ids) if kind == "recordings" else 0,
        )
    return len(ids), files


def _remove_files(store: SnapshotStore, digests: list[str]) -> int:
    return sum(1 for d in digests if store.delete(d))


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each kind of evidence is kept (rule K2)."""

    snapshots: int
    recordings: int
    documents: int
    decisions: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        days = settings.evidence.retention_days
        return cls(
            snapshots=settings.snapshot_retention_days,
            recordings=days["recordings"],
            documents=days["documents"],
            decisions=days["decisions"],
        )


async def sweep_recordings(
    pool: asyncpg.Pool, objects: ObjectStore, now: datetime, retention_days: int
) -> dict[str, int]:
    """Delete recording segments that ended before ``now - retention_days`` (one batch)."""
    cutoff = now - timedelta(days=retention_days)
    reason = f"recordings older than {retention_days} days (before {cutoff.isoformat()})"
    deleted, keys = await _sweep_batch(pool, "recordings", cutoff, reason)
    removed = await asyncio.to_thread(_remove_objects, objects, keys)
    return {"recordings": deleted, "files": removed}


# What the dry-run report counts for each kind: (table, time column, size column).
_REPORTED = {
    "snapshots": ("snapshots", "taken_at", "size_bytes"),
    "recordings": ("recording_segments", "ended_at", "size_bytes"),
    "documents": ("uploads", "created_at", "size"),
    "decisions": ("result_reviews", "decided_at", None),
}
SWEPT = ("snapshots", "recordings")  # deleted by the sweep; the others only reported


async def retention_report(
    conn: asyncpg.Connection, policy: RetentionPolicy, now: datetime
) -> dict[str, Any]:
    """The dry run: what the policy would delete now, kind by kind; deletes nothing."""
    kinds: dict[str, Any] = {}
    for kind, (table, at, size) in _REPORTED.items():
        days = getattr(policy, kind)
        cutoff = now - timedelta(days=days)
        total = f"coalesce(sum({size}), 0)" if size else "0"
        row = await conn.fetchrow(
            f"SELECT count(*) AS n, {total} AS bytes, min({at}) AS oldest FROM {table}"
            f" WHERE {at} < $1",
            cutoff,
        )
        kept = await conn.fetchval(f"SELECT count(*) FROM {table}")
        kinds[kind] = {
            "retention_days": days,
            "cutoff": cutoff.isoformat(),
            "expired": int(row["n"]),
            "expired_bytes": int(row["bytes"]),
            "oldest_expired": None if row["oldest"] is None else row["oldest"].isoformat(),
            "stored": int(kept),
            "deleted_by_sweep": kind in SWEPT,
        }
    return {"now": now.isoformat(), "dry_run": True, "kinds": kinds}


class RetentionSweeper:
    """Runs :func:`sweep_expired` every hour; start/stop like every component."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        store: SnapshotStore,
        retention_days: int,
        now: Callable[[], datetime],
        objects: ObjectStore | None = None,
        recording_days: int | None = None,
    ) -> None:
        self._pool = pool
        self._store = store
        self._days = retention_days
        self._now = now
        self._objects = objects  # rule K2: recordings too, with their own retention
        self._recording_days = recording_days
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
        if self._objects is None or self._recording_days is None:
            return
        while (
            await sweep_recordings(self._pool, self._objects, self._now(), self._recording_days)
        )["recordings"] == SWEEP_BATCH:
            pass

    async def _run(self) -> None:
        await run_every(self._sweep, SWEEP_EVERY_S, log, "evidence retention sweep")
