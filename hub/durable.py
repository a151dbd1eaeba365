"""What the hub writes to PostgreSQL before it acknowledges a client event.

Violations, ends and the phone's early end are durable: they are committed
here (idempotently: replaying them changes nothing) before the client gets
its ack, so an acknowledged violation or end is never lost. Telemetry goes
the slower way, through the persistence worker (``hub/persist.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from hub.ports import EndRecorder
from hub.session import Record, Session, violation_view
from proctor import audit_chain


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class AttemptRow:
    attempt_id: int
    started_at: float
    deadline_at: float
    status: str
    end_reason: str | None


async def attempt_row(conn: asyncpg.Connection, attempt_id: int) -> AttemptRow | None:
    row = await conn.fetchrow(
        "SELECT id, started_at, deadline_at, status, end_reason FROM attempts WHERE id = $1",
        attempt_id,
    )
    if row is None:
        return None
    return AttemptRow(
        attempt_id=row["id"],
        started_at=row["started_at"].timestamp(),
        deadline_at=row["deadline_at"].timestamp(),
        status=row["status"],
        end_reason=row["end_reason"],
    )


async def due_attempts(conn: asyncpg.Connection, now: float, limit: int) -> list[tuple[int, float]]:
    """Attempts still open in the database whose deadline has passed (rule
    E4), with that deadline."""
    rows = await conn.fetch(
        """SELECT id, deadline_at FROM attempts
            WHERE status = 'in_progress' AND deadline_at <= $1
            ORDER BY deadline_at LIMIT $2""",
        at(now),
        limit,
    )
    return [(r["id"], r["deadline_at"].timestamp()) for r in rows]


_UPSERT_VIOLATION = """
INSERT INTO attempt_violations
    (attempt_id, idx, kind, causes, started_at, ended_at, duration_s, forgiven_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (attempt_id, idx) DO UPDATE SET
    kind = EXCLUDED.kind, causes = EXCLUDED.causes, ended_at = EXCLUDED.ended_at,
    duration_s = EXCLUDED.duration_s,
    forgiven_by = COALESCE(EXCLUDED.forgiven_by, attempt_violations.forgiven_by)
-- an older view (a late or claimed copy by the persistence worker) never
-- reopens a violation whose end is known, nor shortens a later-known end
WHERE (attempt_violations.ended_at IS NULL
       OR (EXCLUDED.ended_at IS NOT NULL AND EXCLUDED.ended_at >= attempt_violations.ended_at))
  -- and the same view again writes nothing (nor a new link of the record, rule H7).
  -- A closed violation's duration is its end minus its start: compared only while
  -- it is open, so a view recomputed from the stored (microsecond) times, a
  -- millisecond off by rounding, is the same view (hub/rebuild.py's repair)
  AND (attempt_violations.kind, attempt_violations.causes, attempt_violations.ended_at,
       CASE WHEN attempt_violations.ended_at IS NULL THEN attempt_violations.duration_s END,
       attempt_violations.forgiven_by)
      IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.causes, EXCLUDED.ended_at,
                        CASE WHEN EXCLUDED.ended_at IS NULL THEN EXCLUDED.duration_s END,
                        COALESCE(EXCLUDED.forgiven_by, attempt_violations.forgiven_by))
RETURNING *
"""

_INSERT_EVENT = """
INSERT INTO attempt_events (attempt_id, stream_id, device, kind, at, data)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING
RETURNING attempt_id, stream_id, device, kind, at, data
"""

Chained = dict[int, list[tuple[audit_chain.Kind, Any]]]


async def _written(
    conn: asyncpg.Connection,
    sql: str,
    rows: list[tuple[Any, ...]],
    kind: audit_chain.Kind,
    chained: Chained,
) -> None:
    """Run ``sql`` (… RETURNING) for each row; what it wrote joins the chain (rule H7)."""
    for row in rows:
        written = await conn.fetchrow(sql, *row)
        if written is not None:
            chained.setdefault(written["attempt_id"], []).append((kind, written))


async def upsert_violations(
    conn: asyncpg.Connection, attempt_id_views: list[tuple[int, dict[str, Any]]]
) -> Chained:
    """Upsert violations from their views (as the stream's ``violation``
    records carry them), in the caller's transaction; idempotent, never
    reopens a closed one. Returns the rows it changed, by attempt, for the
    caller to append to the chains (rule H7) once its other writes are done."""
    rows = sorted(
        (_violation_row(attempt_id, view) for attempt_id, view in attempt_id_views),
        key=_violation_key,  # lock order; stable: the stream's order within one violation
    )
    chained: Chained = {}
    await _written(conn, _UPSERT_VIOLATION, rows, audit_chain.VIOLATION, chained)
    return chained


def _event_key(row: tuple[Any, ...]) -> tuple[int, str]:
    return (row[0], row[1])


def _violation_key(row: tuple[Any, ...]) -> tuple[int, int]:
    return (row[0], row[1])


def _violation_row(attempt_id: int, view: dict[str, Any]) -> tuple[Any, ...]:
    return (
        attempt_id,
        view["index"],
        view["kind"],
        list(view["causes"]),
        at(view["started_at"]),
        None if view["ended_at"] is None else at(view["ended_at"]),
        float(view["duration_s"]),
        view.get("forgiven_by"),
    )


async def write_durable(
    conn: asyncpg.Connection,
    session: Session,
    records: list[Record],
    stream_ids: tuple[str, ...] | list[str],
    now: float,
    record_end: EndRecorder,
) -> None:
    """Write the durable records of one committed event, in one transaction.

    ``stream_ids`` are the ids the records got in the attempt's stream, so
    the persistence worker's later copy of the same entries is a no-op.
    """
    durable = [(r, sid) for r, sid in zip(records, stream_ids, strict=False) if r.durable]
    if not durable:
        return
    attempt_id = session.attempt_id
    # Lock order, the same as the persistence worker's (hub/persist.py), so
    # that the two never deadlock: attempt_events by (attempt, stream id),
    # then attempt_violations by (attempt, index), then attempts.
    # ``data`` as the object: the pool's jsonb codec encodes it (proctor/db.py)
    events = sorted(
        ((attempt_id, sid, r.device or "", r.kind, at(r.at), r.data) for r, sid in durable),
        key=_event_key,
    )
    violations = sorted(
        (
            _violation_row(attempt_id, _with_forgiver(session, r.data))
            for r, _ in durable
            if r.kind == "violation"
        ),
        key=_violation_key,  # stable: a later view of the same violation stays later
    )
    chained: Chained = {}
    async with conn.transaction():
        await _written(conn, _INSERT_EVENT, events, audit_chain.EVENT, chained)
        if violations:
            await _written(conn, _UPSERT_VIOLATION, violations, audit_chain.VIOLATION, chained)
            await conn.execute(
                "UPDATE attempts SET violations = $2 WHERE id = $1 AND status = 'in_progress'",
                attempt_id,
                session.violation_count,
            )
        await audit_chain.append_many(conn, chained)  # rule H7: the head's lock is taken last
    for record, _ in durable:
        if record.kind == "ended":
            await end_in_db(conn, session, record_end)


def _with_forgiver(session: Session, view: dict[str, Any]) -> dict[str, Any]:
    for v in session.ledger.violations:
        if v.index == view["index"]:
            return {**view, "forgiven_by": v.forgiven_by}
    return view


async def end_in_db(conn: asyncpg.Connection, session: Session, record_end: EndRecorder) -> None:
    """Converge the database on the session's end: violations, then the one
    ``end_attempt`` (scoring; idempotent)."""
    if session.end_reason is None or session.ended_at is None:
        raise ValueError(f"attempt {session.attempt_id} has not ended")
    await conn.execute(
        "UPDATE attempts SET violations = $2 WHERE id = $1 AND status = 'in_progress'",
        session.attempt_id,
        session.violation_count,
    )
    await record_end(conn, session.attempt_id, session.end_reason.value, at(session.ended_at))


async def repair(
    conn: asyncpg.Connection, session: Session, now: float, record_end: EndRecorder
) -> None:
    """Write everything durable that the shared state holds (idempotent).

    Covers a crash between the Redis commit and the PostgreSQL write: the
    client was not acknowledged, resends, the resend is a duplicate, and this
    brings PostgreSQL up to date before the ack.
    """
    rows = [
        _violation_row(session.attempt_id, {**violation_view(v, now), "forgiven_by": v.forgiven_by})
        for v in session.ledger.violations
    ]
    if rows:
        chained: Chained = {}
        async with conn.transaction():
            await _written(conn, _UPSERT_VIOLATION, rows, audit_chain.VIOLATION, chained)
            await audit_chain.append_many(conn, chained)
    if session.ended:
        await end_in_db(conn, session, record_end)
