"""Extra time (补时) and resume after a fault through the HTTP API, the real
hub, PostgreSQL and Redis (rules M2, M3): the server's arithmetic at the
edges, both devices and the watcher told at once, every grant audited, and
only the room's invigilator may act."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from redis.asyncio import Redis

from exam_api.extra_time import extended_deadline, grant_extra_time, resume_attempt
from hub.deadlines import DeadlineScheduler
from hub.durable import due_attempts
from hub.live import Hub
from proctor.settings import Settings
from proctor.web_sessions import User
from tests.support.clock import FakeClock
from tests.support.components import started_hub
from tests.support.hub_client import DeviceClient, new_attempt
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.sittings import SittingWorld, expect_ok, scheduled_sitting
from tests.support.users import create_user, login_cookies

T = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("deadline", "now", "expected"),
    [
        (T, T - timedelta(minutes=10), T + timedelta(minutes=5)),  # before: added to the deadline
        (T, T, T + timedelta(minutes=5)),
        # rule M2: after the old deadline, the attempt still open: the whole grant from now
        (T, T + timedelta(seconds=20), T + timedelta(seconds=20, minutes=5)),
    ],
)
def test_the_arithmetic_of_a_grant(deadline: datetime, now: datetime, expected: datetime) -> None:
    assert extended_deadline(deadline, now, 300) == expected


async def _start(
    server: LiveServer, pool: asyncpg.Pool, world: SittingWorld, i: int
) -> dict[str, Any]:
    async with await client_for(server.url, pool, world.candidates[i].id) as http:
        return await expect_ok(
            http.post("/api/attempts", json={"paper_id": world.papers.formal_id})
        )


async def _deadline(pool: asyncpg.Pool, attempt_id: int) -> datetime:
    async with pool.acquire() as conn:
        value: datetime = await conn.fetchval(
            "SELECT deadline_at FROM attempts WHERE id = $1", attempt_id
        )
    return value


async def _watch(server: LiveServer, pool: asyncpg.Pool, user_id: int, attempt_id: int) -> Any:
    login = await login_cookies(pool, user_id)
    cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
    return await websockets.connect(
        f"{server.ws_url}/ws/invigilate?attempt={attempt_id}", additional_headers={"Cookie": cookie}
    )


async def _next(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["type"] == kind:
            return message  # type: ignore[no-any-return]


async def test_extra_time_moves_the_deadline_and_every_device_and_the_wall_hear_it(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M2: for one candidate, with a reason, audited; devices and wall at once
    world = await scheduled_sitting(server.url, pool, 1)
    started = await _start(server, pool, world, 0)
    attempt_id = started["attempt_id"]
    before = await _deadline(pool, attempt_id)
    pc = await DeviceClient.connect(server.ws_url, "pc", started["pc_token"])
    phone = await DeviceClient.connect(server.ws_url, "phone", started["phone_token"])
    watcher = await _watch(server, pool, world.invigilator.id, attempt_id)
    try:
        await _next(watcher, "state")
        async with await client_for(server.url, pool, world.invigilator.id) as http:
            path = f"/api/invigilate/attempts/{attempt_id}/extra-time"
            missing = await http.post(path, json={"minutes": 5})
            assert missing.status_code == 400 and missing.json()["error"] == "missing_reason"
            too_much = await http.post(path, json={"minutes": 500, "reason": "x"})
            assert too_much.status_code == 400
            first = await expect_ok(http.post(path, json={"minutes": 5, "reason": "网络故障"}))
            assert datetime.fromisoformat(first["deadline_at"]) == before + timedelta(minutes=5)
            for device in (pc, phone):
                notice = await device.wait_for("extra_time")
                assert notice["added_s"] == 300 and notice["deadline_at"] == first_deadline(first)
                state = await device.wait_for("state", deadline_at=first_deadline(first))
                assert state["remaining_s"] > 0
            assert (await _next(watcher, "extra_time"))["deadline_at"] == first_deadline(first)
            # rule M2: granted twice, the grants add up
            second = await expect_ok(http.post(path, json={"minutes": 5, "reason": "再次断网"}))
            assert datetime.fromisoformat(second["deadline_at"]) == before + timedelta(minutes=10)
            assert (await pc.wait_for("extra_time"))["deadline_at"] == first_deadline(second)
    finally:
        await watcher.close()
        await pc.close()
        await phone.close()
    assert await _deadline(pool, attempt_id) == before + timedelta(minutes=10)
    async with pool.acquire() as conn:
        audit = await conn.fetch(
            """SELECT user_id, reason, detail FROM invigilator_actions
                WHERE attempt_id = $1 AND action = 'extra_time' ORDER BY id""",
            attempt_id,
        )
    assert [(a["user_id"], a["reason"], a["detail"]["added_s"]) for a in audit] == [
        (world.invigilator.id, "网络故障", 300),
        (world.invigilator.id, "再次断网", 300),
    ]


def first_deadline(grant: dict[str, Any]) -> float:
    return datetime.fromisoformat(grant["deadline_at"]).timestamp()


async def test_a_grant_after_the_old_deadline_either_extends_or_finds_the_end(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M2: granted after the original deadline passed while the attempt is still
    # open — racing the deadline scheduler: never "extended" and ended at once
    world = await scheduled_sitting(server.url, pool, 1)
    attempt_id = (await _start(server, pool, world, 0))["attempt_id"]
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE attempts SET deadline_at = now() - interval '2 seconds' WHERE id = $1",
            attempt_id,
        )
    async with await client_for(server.url, pool, world.invigilator.id) as http:
        reply = await http.post(
            f"/api/invigilate/attempts/{attempt_id}/extra-time",
            json={"minutes": 5, "reason": "停电"},
        )
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, deadline_at FROM attempts WHERE id = $1", attempt_id
        )
    if reply.status_code == 200:
        assert row["status"] == "in_progress"
        assert row["deadline_at"] > datetime.now(UTC) + timedelta(minutes=4)
    else:
        assert reply.json()["error"] == "attempt_ended"


async def test_room_grant_reaches_running_attempts_only(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M2: a whole room with attempts in several states
    world = await scheduled_sitting(server.url, pool, 3)
    running = await _start(server, pool, world, 0)
    submitted = await _start(server, pool, world, 1)
    async with await client_for(server.url, pool, world.candidates[1].id) as http:
        await expect_ok(http.post(f"/api/attempts/{submitted['attempt_id']}/submit"))
    before = await _deadline(pool, running["attempt_id"])
    async with await client_for(server.url, pool, world.invigilator.id) as http:
        reply = await expect_ok(
            http.post(
                f"/api/invigilate/rooms/{world.room_id}/extra-time",
                json={"minutes": 3, "reason": "考场断电"},
            )
        )
    outcomes = {r["username"]: r["outcome"] for r in reply["results"]}
    assert outcomes == {
        world.candidates[0].username: "extended",
        world.candidates[1].username: "ended",
        world.candidates[2].username: "not_started",
    }
    assert reply["extended"] == 1
    assert await _deadline(pool, running["attempt_id"]) == before + timedelta(minutes=3)
    async with pool.acquire() as conn:
        audited = await conn.fetchval(
            "SELECT count(*) FROM invigilator_actions WHERE action = 'extra_time' AND attempt_id = ANY($1)",
            [running["attempt_id"], submitted["attempt_id"]],
        )
    assert audited == 1


async def test_only_the_rooms_invigilator_grants_or_resumes(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # permission: an invigilator acts only on their rooms and sessions; a hostile candidate neither
    world = await scheduled_sitting(server.url, pool, 1)
    attempt_id = (await _start(server, pool, world, 0))["attempt_id"]
    before = await _deadline(pool, attempt_id)
    other = await create_user(pool, "invigilator")
    body = {"minutes": 60, "reason": "我想"}
    for user_id in (other.id, world.candidates[0].id):
        async with await client_for(server.url, pool, user_id) as http:
            for path in (
                f"/api/invigilate/attempts/{attempt_id}/extra-time",
                f"/api/invigilate/rooms/{world.room_id}/extra-time",
                f"/api/invigilate/attempts/{attempt_id}/resume",
            ):
                reply = await http.post(path, json=body)
                assert reply.status_code == 403, (path, reply.text)
            assert (await http.get("/api/invigilate/rooms")).status_code in (200, 403)
    async with await client_for(server.url, pool, other.id) as http:
        assert (await http.get("/api/invigilate/rooms")).json()["rooms"] == []
        assert attempt_id not in {
            s["attempt_id"] for s in (await http.get("/api/invigilate/sessions")).json()["sessions"]
        }
    async with await client_for(server.url, pool, world.invigilator.id) as http:
        wall = (await http.get("/api/invigilate/sessions")).json()["sessions"]
        assert attempt_id in {s["attempt_id"] for s in wall}  # the room's attempt is on their wall
    assert await _deadline(pool, attempt_id) == before


async def _end(http: httpx.AsyncClient, attempt_id: int) -> None:
    await expect_ok(
        http.post(f"/api/invigilate/attempts/{attempt_id}/end", json={"reason": "电脑死机"})
    )


async def test_resume_reopens_with_answers_and_the_remaining_time(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M3: reopened by the invigilator with a reason (audited), answers kept, time left kept
    world = await scheduled_sitting(server.url, pool, 1)
    started = await _start(server, pool, world, 0)
    attempt_id = started["attempt_id"]
    question = world.papers.question_ids[0]
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO attempt_answers (attempt_id, question_id, answer, rev, saved_at)
               VALUES ($1, $2, '"A"'::jsonb, 1, now())""",
            attempt_id,
            question,
        )
    async with await client_for(server.url, pool, world.invigilator.id) as http:
        await _end(http, attempt_id)
        async with pool.acquire() as conn:
            ended = await conn.fetchrow(
                "SELECT ended_at, deadline_at FROM attempts WHERE id = $1", attempt_id
            )
        had = (ended["deadline_at"] - ended["ended_at"]).total_seconds()
        missing = await http.post(f"/api/invigilate/attempts/{attempt_id}/resume", json={})
        assert missing.status_code == 400
        resumed = await expect_ok(
            http.post(
                f"/api/invigilate/attempts/{attempt_id}/resume",
                json={"reason": "电脑死机，已更换电脑"},
            )
        )
        assert resumed["remaining_s"] == pytest.approx(had, abs=0.01)
        again = await http.post(
            f"/api/invigilate/attempts/{attempt_id}/resume", json={"reason": "再来"}
        )
        assert again.status_code == 409 and again.json()["error"] == "attempt_running"
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, end_reason, score, deadline_at FROM attempts WHERE id = $1", attempt_id
        )
        audit = await conn.fetchrow(
            "SELECT reason, detail FROM invigilator_actions WHERE attempt_id = $1 AND action = 'resume'",
            attempt_id,
        )
    assert (row["status"], row["end_reason"], row["score"]) == ("in_progress", None, None)
    assert (
        audit["reason"] == "电脑死机，已更换电脑"
        and audit["detail"]["previous_end"] == "invigilator"
    )
    # the candidate's devices come back into a running attempt, the answer is there
    pc = await DeviceClient.connect(server.ws_url, "pc", started["pc_token"])
    try:
        state = await pc.wait_for("state")
        assert state["status"] == "running"
        assert state["deadline_at"] == pytest.approx(row["deadline_at"].timestamp())
    finally:
        await pc.close()
    async with await client_for(server.url, pool, world.candidates[0].id) as http:
        view = (await http.get(f"/api/attempts/{attempt_id}")).json()
        assert view["status"] == "in_progress" and view["answers"][str(question)]["answer"] == "A"
        card = next(
            p
            for p in (await http.get("/api/papers")).json()["papers"]
            if p["id"] == world.papers.formal_id
        )
        assert card["state"] == "resume"


async def test_submitted_or_fifth_violation_cannot_be_reopened(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule M3: a candidate who submitted or reached the fifth violation stays ended (hostile tries too)
    world = await scheduled_sitting(server.url, pool, 2)
    submitted = (await _start(server, pool, world, 0))["attempt_id"]
    async with await client_for(server.url, pool, world.candidates[0].id) as http:
        await expect_ok(http.post(f"/api/attempts/{submitted}/submit"))
        # hostile: the candidate tries to reopen their own attempt
        assert (
            await http.post(f"/api/invigilate/attempts/{submitted}/resume", json={"reason": "x"})
        ).status_code == 403
    fifth = (await _start(server, pool, world, 1))["attempt_id"]
    async with await client_for(server.url, pool, world.invigilator.id) as http:
        await _end(http, fifth)
        async with pool.acquire() as conn:
            # the record says five violations (an invigilator's end after the fifth's race)
            await conn.execute("UPDATE attempts SET violations = 5 WHERE id = $1", fifth)
        for attempt_id, message in ((submitted, "已交卷"), (fifth, "违规满 5 次")):
            reply = await http.post(
                f"/api/invigilate/attempts/{attempt_id}/resume", json={"reason": "试试"}
            )
            assert reply.status_code == 409 and reply.json()["error"] == "not_reopenable"
            assert message in reply.json()["message"]
    async with pool.acquire() as conn:
        statuses = await conn.fetch(
            "SELECT status FROM attempts WHERE id = ANY($1)", [submitted, fifth]
        )
        assert {r["status"] for r in statuses} == {"ended"}
        assert not await conn.fetchval(
            "SELECT count(*) FROM invigilator_actions WHERE action = 'resume' AND attempt_id = ANY($1)",
            [submitted, fifth],
        )


# ----- on the test's clock: a hub that has just started (tests/hub/test_deadlines.py)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fresh_hub(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, clock: FakeClock
) -> AsyncIterator[Hub]:
    async with started_hub(settings, pool, redis, clock=clock) as parts:
        yield parts.hub


def staff(user_id: int) -> User:
    return User(id=user_id, username="inv", role="invigilator", real_name="监考员")


async def test_a_grant_after_the_deadline_survives_the_schedulers_stale_read(
    fresh_hub: Hub, pool: asyncpg.Pool, settings: Settings, clock: FakeClock
) -> None:
    # rule M2: granted after the original deadline passed while the attempt is
    # still open; the scheduler had read the old deadline just before
    attempt = await new_attempt(pool, settings, time_limit_s=600)
    old = await _deadline(pool, attempt.attempt_id)
    invigilator = await create_user(pool, "invigilator")
    clock.set(old.timestamp() + 20)
    [(due_id, stale)] = [d for d in await _due(pool, clock.now()) if d[0] == attempt.attempt_id]
    grant = await grant_extra_time(
        pool, fresh_hub, attempt.attempt_id, 300, staff(invigilator.id), "停电"
    )
    assert grant.outcome == "extended"
    assert grant.deadline_at == datetime.fromtimestamp(clock.now(), UTC) + timedelta(minutes=5)
    await DeadlineScheduler(fresh_hub).end_if_due(due_id, stale, clock.now())
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, deadline_at FROM attempts WHERE id = $1", due_id)
    assert (row["status"], row["deadline_at"]) == ("in_progress", grant.deadline_at)
    live = await fresh_hub.attempt(due_id)
    assert not live.session.ended and live.session.deadline_at == grant.deadline_at.timestamp()
    fresh_hub.release(live)
    # at the new deadline the server's clock ends it (rule E4)
    clock.set(grant.deadline_at.timestamp())
    await DeadlineScheduler(fresh_hub).run_once()
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT end_reason FROM attempts WHERE id = $1", due_id)
            == "time_up"
        )


async def _due(pool: asyncpg.Pool, now: float) -> list[tuple[int, float]]:
    async with pool.acquire() as conn:
        return await due_attempts(conn, now, 1000)


async def test_an_abandoned_attempt_resumes_with_the_time_it_had_when_the_devices_left(
    fresh_hub: Hub, pool: asyncpg.Pool, settings: Settings, clock: FakeClock
) -> None:
    # rule M3: abandoned (both devices gone for abandon_after_s), then reopened
    attempt = await new_attempt(pool, settings, time_limit_s=7200)
    deadline = (await _deadline(pool, attempt.attempt_id)).timestamp()
    invigilator = await create_user(pool, "invigilator")
    live = await fresh_hub.attempt(attempt.attempt_id)
    t0 = clock.now()
    await fresh_hub.apply(live, lambda s: s.connect("pc", t0, "c1"), now=t0)
    await fresh_hub.apply(live, lambda s: s.disconnect("pc", t0 + 60, "c1"), now=t0 + 60)
    fresh_hub.release(live)
    clock.set(t0 + 60 + fresh_hub.rules.abandon_after_s + 5)
    await DeadlineScheduler(fresh_hub).run_once()
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT end_reason FROM attempts WHERE id = $1", attempt.attempt_id)
            == "abandoned"
        )
    clock.set(clock.now() + 600)  # the invigilator comes ten minutes later
    resumed = await resume_attempt(
        pool, fresh_hub, attempt.attempt_id, staff(invigilator.id), "断网"
    )
    had = deadline - (t0 + 60)  # the time left when the last device left
    assert resumed["remaining_s"] == pytest.approx(had, abs=0.01)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, deadline_at FROM attempts WHERE id = $1", attempt.attempt_id
        )
    assert row["status"] == "in_progress"
    assert row["deadline_at"].timestamp() == pytest.approx(clock.now() + had, abs=0.01)
    # the abandonment clock starts again from the reopening, not from the old outage
    await DeadlineScheduler(fresh_hub).run_once()
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT status FROM attempts WHERE id = $1", attempt.attempt_id)
            == "in_progress"
        )
