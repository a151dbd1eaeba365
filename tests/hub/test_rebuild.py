"""An ended attempt after its grace (hub/rebuild.py), on the real PostgreSQL
and Redis: its keys are gone, PostgreSQL answers.

The documented answer to a late reconnect (docs/reliability.md): ``welcome``
with ``last_acked`` 0 (Redis' count of the device's messages is gone, and it
claims nothing), the state and ``ended`` with PostgreSQL's reason and
violations, then close 4410; the rebuilt state expires again after the grace.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

from hub.errors import CLOSE_ENDED
from hub.keys import Keys
from hub.live import Hub
from hub.persist import PersistWorker
from proctor.settings import Settings
from tests.support.components import own_keys, started_hub
from tests.support.hub_client import DeviceClient, HubAttempt, new_attempt, pc_connected
from tests.support.live import LiveServer, start_live_server
from tests.support.waits import eventually

GRACE_S = 1


@pytest.fixture
def own(settings: Settings) -> Keys:
    return own_keys(settings, "rebuild")


async def _keys_left(redis: Redis, own: Keys, attempt_id: int) -> list[str]:
    names = [own.events(attempt_id), own.state(attempt_id)]
    return [n for n in names if await redis.exists(n)]


async def _expired(worker: PersistWorker, redis: Redis, own: Keys, attempt_id: int) -> None:
    """Persisted, expiring, then gone: the worker's passes as it runs them."""

    async def gone() -> bool:
        await worker.run_once(sweep=False)
        await worker.run_once(sweep=True)
        return not await _keys_left(redis, own, attempt_id)

    await eventually(gone)


async def _until_closed(client: DeviceClient) -> tuple[list[dict[str, object]], int | None]:
    """Every message the server sends, then the close code."""
    messages = []
    try:
        while True:
            messages.append(await client.recv())
    except ConnectionClosed as closed:
        return messages, closed.rcvd.code if closed.rcvd else None


@pytest.fixture
async def web(own: Keys, settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[LiveServer]:
    """A web process of its own prefix and a 1 s grace; the test runs the worker."""
    mine = dataclasses.replace(settings, redis_prefix=own.prefix, ended_grace_s=GRACE_S)
    server = await start_live_server(mine, roles=frozenset({"web"}))
    yield server
    await server.stop()


async def _sat_and_submitted(web: LiveServer, attempt: HubAttempt) -> None:
    """Two violations (rule E3: each departure after a return counts), a
    submit, and the phone ends its part after the PC (rule D5)."""
    pc = await DeviceClient.connect(web.ws_url, "pc", attempt.pc_token)
    for state in ("lost", "back", "lost", "back"):
        fields = {"cause": "blur"} if state == "lost" else {}
        assert (await pc.call("focus", state=state, **fields))["type"] == "ack"
    assert (await pc.call("submit"))["type"] == "ack"
    await pc.wait_for("ended")
    await pc.close()
    phone = await DeviceClient.connect(web.ws_url, "phone", attempt.phone_token)
    await phone.wait_for("ended")
    assert (await phone.call("phone_end", confirmed=True))["type"] == "ack"
    await phone.close()


async def test_a_reconnect_after_the_grace_is_answered_from_postgresql(
    web: LiveServer, own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    attempt = await new_attempt(pool, settings)
    await _sat_and_submitted(web, attempt)
    # within the grace Redis still answers: the device's own count
    worker = PersistWorker(redis=redis, pool=pool, keys=own, ended_grace_s=GRACE_S)
    await _expired(worker, redis, own, attempt.attempt_id)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT ended_at, end_reason, violations FROM attempts WHERE id = $1",
            attempt.attempt_id,
        )
    assert row["end_reason"] == "submitted" and row["violations"] == 2

    pc = await DeviceClient.connect(web.ws_url, "pc", attempt.pc_token, resume=True)
    assert pc.welcome["last_acked"] == 0
    messages, code = await _until_closed(pc)
    ended = [m for m in messages if m["type"] == "ended"]
    assert len(ended) == 1 and code == CLOSE_ENDED
    assert ended[0]["reason"] == "submitted" and ended[0]["violations"] == 2
    assert ended[0]["at"] == pytest.approx(row["ended_at"].timestamp(), abs=1e-3)
    state = [m for m in messages if m["type"] == "state"][-1]
    assert state["status"] == "ended" and state["violations"] == 2

    # the phone ended its part before: PostgreSQL says so, it is not offered again
    phone = await DeviceClient.connect(web.ws_url, "phone", attempt.phone_token, resume=True)
    _, code = await _until_closed(phone)
    assert code == CLOSE_ENDED

    # what the reconnects shared expires again: nothing stays of an old attempt
    ttl = await redis.ttl(own.state(attempt.attempt_id))
    assert 0 < ttl <= GRACE_S or ttl == -2
    await _expired(worker, redis, own, attempt.attempt_id)


@pytest.fixture
async def hub(
    own: Keys, settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> AsyncIterator[Hub]:
    async with started_hub(settings, pool, redis, keys=own) as parts:
        yield parts.hub


async def test_an_abandoned_attempt_reopened_after_the_grace_keeps_its_violations(
    hub: Hub, own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # rule M3 after the grace: the attempt is rebuilt from PostgreSQL with its
    # counted violation (rule E3: the fifth still ends it) and its fault time
    # (the moment the last device left), and once reopened its keys never expire
    attempt, live, t0 = await pc_connected(hub, pool, settings)
    await hub.apply(live, lambda s: s.focus_lost("visibility", t0 + 1), "pc", 2, now=t0 + 1)
    await hub.apply(live, lambda s: s.focus_back(t0 + 2), "pc", 3, now=t0 + 2)
    await hub.apply(live, lambda s: s.disconnect("pc", t0 + 3, "c1"), now=t0 + 3)
    late = t0 + 3 + hub.rules.abandon_after_s + 1
    await hub.apply(live, lambda s: s.tick(late), now=late)
    assert live.session.end_reason is not None and live.session.end_reason.value == "abandoned"
    fault_at = live.session.fault_at()
    assert fault_at == pytest.approx(t0 + 3)

    worker = PersistWorker(redis=redis, pool=pool, keys=own, ended_grace_s=GRACE_S)
    await _expired(worker, redis, own, attempt.attempt_id)

    # ``live`` is this process's copy from before: the commit finds the shared
    # state gone and the event runs on PostgreSQL's truth instead
    deadline = late + 600
    await hub.apply(live, lambda s: s.reopen(deadline, 0, late + 1), now=late + 1)
    session = live.session
    assert not session.ended and session.deadline_at == deadline
    assert session.violation_count == 1 and session.ledger.violations[0].causes == ["visibility"]
    for _ in range(3):
        await worker.run_once(sweep=True)
        assert await redis.ttl(own.state(attempt.attempt_id)) == -1
        assert await redis.ttl(own.events(attempt.attempt_id)) == -1


async def test_a_rebuilt_abandoned_attempt_keeps_its_fault_time(
    hub: Hub, own: Keys, pool: asyncpg.Pool, settings: Settings, redis: Redis
) -> None:
    # rule M3: a resume gives back the time left at the fault; after the grace
    # the fault is still when the last device left, not the end
    attempt, live, t0 = await pc_connected(hub, pool, settings)
    await hub.apply(live, lambda s: s.connect("phone", t0, "p1"), "phone", 1, now=t0)
    await hub.apply(live, lambda s: s.disconnect("phone", t0 + 5, "p1"), now=t0 + 5)
    await hub.apply(live, lambda s: s.disconnect("pc", t0 + 9, "c1"), now=t0 + 9)
    late = t0 + 9 + hub.rules.abandon_after_s + 1
    await hub.apply(live, lambda s: s.tick(late), now=late)
    before = live.session.fault_at()
    hub.release(live)
    worker = PersistWorker(redis=redis, pool=pool, keys=own, ended_grace_s=GRACE_S)
    await _expired(worker, redis, own, attempt.attempt_id)

    again = await hub.attempt(attempt.attempt_id)  # rebuilt from PostgreSQL
    assert again.version == 1 and again.session.ended
    assert again.session.fault_at() == pytest.approx(before, abs=1e-3)
    assert again.session.fault_at() == pytest.approx(t0 + 9, abs=1e-3)
    # the rebuilt state expires after the hub's grace (PROCTOR_ENDED_GRACE)
    assert 0 < await redis.ttl(own.state(attempt.attempt_id)) <= hub.ended_grace_s
