"""SQL for snapshot evidence: small functions taking a connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webrtc.storage import StoredBlob


async def attempt_is_open(conn: Any, attempt_id: int) -> bool:
    status = await conn.fetchval("SELECT status FROM attempts WHERE id = $1", attempt_id)
    return bool(status == "in_progress")


async def evidence_accepted(
    conn: Any, attempt_id: int, issued_at: datetime, max_age_s: float
) -> bool:
    """May evidence of a capture issued at ``issued_at`` be stored now?
    While the attempt runs; after its end, a capture issued at or before
    ``ended_at``, within ``max_age_s`` of its issue (rule H10)."""
    accepted: bool | None = await conn.fetchval(
        """SELECT status = 'in_progress'
                  OR (ended_at >= $2 AND now() - $2 <= make_interval(secs => $3))
             FROM attempts WHERE id = $1""",
        attempt_id,
        issued_at,
        max_age_s,
    )
    return bool(accepted)


async def count_snapshots(conn: Any, attempt_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM snapshots WHERE attempt_id = $1", attempt_id
    )
    return count


async def insert_snapshot(
    conn: Any,
    *,
    attempt_id: int,
    device: str,
    reason: str,
    taken_at: datetime,
    blob: StoredBlob,
    width: int,
    height: int,
    capture_id: str | None,
    violation: int | None = None,
) -> int:
    snapshot_id: int = await conn.fetchval(
        """INSERT INTO snapshots
               (attempt_id, device, reason, taken_at, sha256, path, width, height,
                capture_id, size_bytes, violation_idx)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id""",
        attempt_id,
        device,
        reason,
        taken_at,
        blob.sha256,
        blob.path,
        width,
        height,
        capture_id,
        blob.size,
        violation,
    )
    return snapshot_id


async def set_faces(conn: Any, snapshot_id: int, faces: int | None) -> None:
    await conn.execute("UPDATE snapshots SET faces = $2 WHERE id = $1", snapshot_id, faces)


async def list_snapshots(conn: Any, attempt_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, attempt_id, device, reason, taken_at, sha256, path, width, height,
                  faces, capture_id, size_bytes, violation_idx
             FROM snapshots WHERE attempt_id = $1 ORDER BY taken_at, id""",
        attempt_id,
    )
    return [dict(r) for r in rows]
