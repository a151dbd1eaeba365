"""A known set of ended attempts of one sitting (场次) and its class, with
violations and outages, for the results figures' tests (issue #14)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.support.papers import candidate_with_request
from tests.support.sittings import SittingWorld, scheduled_sitting

# (score, outcome) of the sitting's three ended attempts: one under the pass
# mark, one at 72.5 waiting for a reviewer, one passed at 100
SITTING_ATTEMPTS = [(45, "failed"), (72.5, "under_review"), (100, "passed")]


@dataclass(frozen=True)
class KnownResults:
    world: SittingWorld
    attempt_ids: list[int]  # the sitting's ended attempts, in SITTING_ATTEMPTS order
    outside_id: int  # a formal attempt of the class sat without the sitting (score 60)


async def _attempt(
    conn: asyncpg.Connection,
    user_id: int,
    paper_id: int,
    sitting_id: int | None,
    score: float | None,
    outcome: str | None,
    status: str = "ended",
) -> int:
    now = datetime.now(UTC)
    attempt_id: int = await conn.fetchval(
        """INSERT INTO attempts (user_id, paper_id, sitting_id, status, started_at, deadline_at,
                                 ended_at, end_reason, score, outcome)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
        user_id,
        paper_id,
        sitting_id,
        status,
        now - timedelta(minutes=50),
        now + timedelta(minutes=10),
        None if status != "ended" else now,
        None if status != "ended" else "submitted",
        score,
        outcome,
    )
    return attempt_id


async def _violation(
    conn: asyncpg.Connection, attempt_id: int, idx: int, kind: str, forgiven_by: int | None
) -> None:
    await conn.execute(
        """INSERT INTO attempt_violations (attempt_id, idx, kind, causes, started_at, duration_s,
                                           forgiven_by)
           VALUES ($1, $2, $3, ARRAY['visibility'], now(), 3, $4)""",
        attempt_id,
        idx,
        kind,
        forgiven_by,
    )


async def _event(
    conn: asyncpg.Connection, attempt_id: int, n: int, device: str, kind: str, data: dict
) -> None:
    await conn.execute(
        """INSERT INTO attempt_events (attempt_id, stream_id, device, kind, at, data)
           VALUES ($1, $2, $3, $4, now(), $5)""",
        attempt_id,
        f"{n}-0",
        device,
        kind,
        data,  # the pool's codec encodes jsonb (proctor/db.py)
    )


async def known_results(server_url: str, pool: asyncpg.Pool) -> KnownResults:
    """The sitting of three candidates with SITTING_ATTEMPTS, a fourth still
    sitting (not counted), and one formal attempt of the class outside it.

    Violations: 2 tab_hidden (1 forgiven) and 1 window_blur. Outages: the PC
    off the network once, the phone twice (in one attempt), the phone camera
    lost once and asleep once; a camera back to live and a device's own
    hint are not losses (rule H9)."""
    world = await scheduled_sitting(server_url, pool, candidates=4)
    formal, sid = world.papers.formal_id, world.sitting_id
    outsider = await candidate_with_request(pool)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)",
            world.papers.class_id,
            outsider.id,
        )
        ids = [
            await _attempt(conn, c.id, formal, sid, score, outcome)
            for c, (score, outcome) in zip(world.candidates, SITTING_ATTEMPTS, strict=False)
        ]
        await _attempt(conn, world.candidates[3].id, formal, sid, None, None, "in_progress")
        outside = await _attempt(conn, outsider.id, formal, None, 60, "under_review")
        first, second, third = ids
        await _violation(conn, first, 1, "tab_hidden", None)
        await _violation(conn, first, 2, "tab_hidden", world.invigilator.id)
        await _violation(conn, second, 1, "window_blur", None)
        await _violation(conn, outside, 1, "click_outside", None)
        await _event(conn, first, 1, "pc", "outage_start", {"grace_s": 120})
        await _event(conn, first, 2, "phone", "camera", {"state": "lost", "previous": "live"})
        await _event(conn, first, 3, "pc", "camera", {"state": "live", "previous": "off"})
        await _event(conn, second, 1, "phone", "outage_start", {"grace_s": 120})
        await _event(conn, second, 2, "phone", "outage_start", {"grace_s": 120})
        await _event(conn, second, 3, "phone", "camera", {"state": "asleep", "previous": "live"})
        await _event(conn, third, 1, "pc", "camera_hint", {"state": "lost"})
        await _event(conn, outside, 1, "pc", "outage_start", {"grace_s": 120})
    return KnownResults(world, ids, outside)
