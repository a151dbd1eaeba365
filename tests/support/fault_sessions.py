"""Many running attempts made at once in the cluster's database, their
devices as a ``Fleet`` of resuming clients, and the comparison of what the
devices were told was stored with what PostgreSQL holds (the fault tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from hub.tokens import sign_device_token
from proctor.settings import Settings
from tests.support.resuming import Fleet, ResumingDevice
from tests.support.users import create_class_with_paper, create_user


async def running_attempts(pool: asyncpg.Pool, settings: Settings, n: int) -> list[int]:
    """``n`` candidates of one class, each with a running attempt of its paper."""
    users = [await create_user(pool) for _ in range(n)]
    paper_id = await create_class_with_paper(pool, [u.id for u in users], time_limit_s=3 * 3600)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
               SELECT u, $2, $3, $4 FROM unnest($1::bigint[]) AS u RETURNING id""",
            [u.id for u in users],
            paper_id,
            now,
            now + timedelta(hours=3),
        )
    return [r["id"] for r in rows]


def fleet_of(ws_url: str, settings: Settings, attempt_ids: list[int]) -> Fleet:
    """A PC and a phone per attempt (tokens signed with the cluster's key)."""
    t = time.time()
    devices = [
        ResumingDevice(
            ws_url, a, device, sign_device_token(settings.secret_key, a, device, t, 3 * 3600)
        )
        for a in attempt_ids
        for device in ("pc", "phone")
    ]
    return Fleet(devices)


async def end_at_deadline_now(pool: asyncpg.Pool, attempt_ids: list[int]) -> None:
    """Their time is up now: only the scheduler can end them (rule E4)."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE attempts SET deadline_at = now() WHERE id = ANY($1::bigint[])", attempt_ids
        )


@dataclass(frozen=True)
class Comparison:
    """Acknowledged vs found, summed over the fleet."""

    acked_heartbeats: int  # heartbeats the devices were told were stored
    found_heartbeats: int  # of those, present in attempt_events (by attempt, device, seq)
    duplicated: int  # (attempt, device, seq) present more than once
    acked_violations: int  # `focus lost` acknowledged (each a violation, rule E3)
    found_violations: int  # attempt_violations rows of those attempts
    counted_violations: int  # attempts.violations summed
    timed_out: int  # attempts ended by the scheduler at their deadline
    missing: tuple[tuple[int, str, int], ...]  # (attempt, device, seq) acknowledged, not found

    def line(self, what: str) -> str:
        return (
            f"{what}: heartbeats acknowledged {self.acked_heartbeats}, found {self.found_heartbeats} "
            f"(duplicated {self.duplicated}); violations acknowledged {self.acked_violations}, "
            f"found {self.found_violations}, counted {self.counted_violations}"
        )


_EVENTS = """
SELECT attempt_id, device, (data->>'seq')::int AS seq, count(*) AS copies
  FROM attempt_events
 WHERE attempt_id = ANY($1::bigint[]) AND kind = 'heartbeat' AND data ? 'seq'
 GROUP BY 1, 2, 3
"""


async def compare(pool: asyncpg.Pool, fleet: Fleet) -> Comparison:
    attempt_ids = sorted({d.attempt_id for d in fleet.devices})
    async with pool.acquire() as conn:
        rows = await conn.fetch(_EVENTS, attempt_ids)
        violations = await conn.fetchval(
            "SELECT count(*) FROM attempt_violations WHERE attempt_id = ANY($1::bigint[])",
            attempt_ids,
        )
        counted = await conn.fetchval(
            "SELECT coalesce(sum(violations), 0) FROM attempts WHERE id = ANY($1::bigint[])",
            attempt_ids,
        )
        timed_out = await conn.fetchval(
            """SELECT count(*) FROM attempts WHERE id = ANY($1::bigint[])
                  AND status = 'ended' AND end_reason = 'time_up'""",
            attempt_ids,
        )
    found = {(r["attempt_id"], r["device"], r["seq"]): r["copies"] for r in rows}
    acked = [
        (d.attempt_id, d.device, seq)
        for d in fleet.devices
        for seq, kind in d.tally.stored.items()
        if kind == "heartbeat"
    ]
    missing = tuple(key for key in acked if key not in found)
    return Comparison(
        acked_heartbeats=len(acked),
        found_heartbeats=len(acked) - len(missing),
        duplicated=sum(1 for copies in found.values() if copies > 1),
        acked_violations=sum(d.tally.stored_lost for d in fleet.devices),
        found_violations=int(violations),
        counted_violations=int(counted),
        timed_out=int(timed_out),
        missing=missing[:20],
    )
