"""The durable records' SQL (hub/durable.py) against the real PostgreSQL:
the same view written twice is one row and one link of the record (rule H7)."""

from __future__ import annotations

import asyncpg

from hub.durable import upsert_violations
from proctor.settings import Settings
from tests.support.fault_sessions import running_attempts


def _view(duration_s: float, ended_at: float | None) -> dict[str, object]:
    return {
        "index": 1,
        "kind": "focus",
        "causes": ["visibility"],
        "started_at": 1_800_000_000.0004996,
        "ended_at": ended_at,
        "duration_s": duration_s,
    }


async def test_a_closed_violation_recomputed_a_millisecond_off_is_the_same_view(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    """After an ended attempt's grace the hub rebuilds it from PostgreSQL and
    repairs: the violation's duration, recomputed from the stored microsecond
    times, may round a millisecond the other way. That is no new record."""
    (attempt_id,) = await running_attempts(pool, settings, 1)
    end = 1_800_000_002.0
    async with pool.acquire() as conn, conn.transaction():
        # rule E3: open, then its running duration grows, then it closes
        first = await upsert_violations(conn, [(attempt_id, _view(0.5, None))])
        growing = await upsert_violations(conn, [(attempt_id, _view(1.2, None))])
        closed = await upsert_violations(conn, [(attempt_id, _view(1.999, end))])
        again = await upsert_violations(conn, [(attempt_id, _view(2.0, end))])
        later_end = await upsert_violations(conn, [(attempt_id, _view(3.0, end + 1))])
        row = await conn.fetchrow(
            "SELECT ended_at, duration_s FROM attempt_violations WHERE attempt_id = $1",
            attempt_id,
        )
    assert [len(c.get(attempt_id, [])) for c in (first, growing, closed)] == [1, 1, 1]
    assert again == {}  # the same closed view: nothing written, no link
    assert len(later_end[attempt_id]) == 1  # a later-known end is written
    assert row["duration_s"] == 3.0 and row["ended_at"].timestamp() == end + 1
