"""The deadline scheduler on the real PostgreSQL and Redis (rule E4, G4).

A hub built from nothing but the shared stores — as after a restart — ends
an overdue attempt: the deadline lives in PostgreSQL, not in a local sleep.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from hub.deadlines import DeadlineScheduler
from hub.live import Hub
from proctor.settings import Settings
from tests.support.clock import FakeClock
from tests.support.components import started_hub
from tests.support.hub_client import new_attempt


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fresh_hub(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, clock: FakeClock
) -> AsyncIterator[Hub]:
    """A hub process that has just started: no attempt in memory; its clock
    is the test's."""
    async with started_hub(settings, pool, redis, clock=clock) as parts:
        yield parts.hub


async def test_a_restarted_hub_ends_overdue_attempts(
    fresh_hub: Hub, pool: asyncpg.Pool, settings: Settings, redis: Redis, clock: FakeClock
) -> None:
    attempt = await new_attempt(pool, settings, time_limit_s=600)
    later = time.time() + 601  # the scheduler's clock: past this attempt's deadline
    clock.set(later)
    scheduler = DeadlineScheduler(fresh_hub)
    assert attempt.attempt_id not in fresh_hub.attempts
    ended = await scheduler.run_once()
    assert ended >= 1
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, end_reason, ended_at, deadline_at FROM attempts WHERE id = $1",
            attempt.attempt_id,
        )
    assert (row["status"], row["end_reason"]) == ("ended", "time_up")
    # the end is at the deadline, by the server's clock (rule E4)
    assert abs((row["ended_at"] - row["deadline_at"]).total_seconds()) < 0.01
    state = await redis.hget(
        f"{settings.redis_prefix}:{{att:{attempt.attempt_id}}}:state", "status"
    )
    assert state == b"ended"
    # nothing is kept in memory for an attempt nobody here holds
    assert attempt.attempt_id not in fresh_hub.attempts
    # a second pass (or another process) changes nothing
    assert attempt.attempt_id not in [a for a, _ in await _due(pool, later)]


async def _due(pool: asyncpg.Pool, now: float) -> list[tuple[int, float]]:
    from hub.durable import due_attempts

    async with pool.acquire() as conn:
        return await due_attempts(conn, now, 1000)


async def test_an_attempt_whose_devices_are_all_gone_is_abandoned(
    fresh_hub: Hub, pool: asyncpg.Pool, settings: Settings, clock: FakeClock
) -> None:
    # both devices gone for the rules' abandon_after_s: the attempt ends even
    # though nobody is there to send an event
    attempt = await new_attempt(pool, settings, time_limit_s=7200)
    live = await fresh_hub.attempt(attempt.attempt_id)
    t0 = time.time()
    await fresh_hub.apply(live, lambda s: s.connect("pc", t0, "c1"), now=t0)
    await fresh_hub.apply(live, lambda s: s.disconnect("pc", t0 + 1, "c1"), now=t0 + 1)
    fresh_hub.release(live)
    later = t0 + 1 + fresh_hub.rules.abandon_after_s + 1
    clock.set(later)
    await DeadlineScheduler(fresh_hub).run_once()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, end_reason FROM attempts WHERE id = $1", attempt.attempt_id
        )
    assert (row["status"], row["end_reason"]) == ("ended", "abandoned")
