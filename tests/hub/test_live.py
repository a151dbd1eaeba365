"""The hub end to end on the real PostgreSQL and Redis, with live servers.

Two app instances sharing Redis and PostgreSQL stand for two hub processes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import websockets
from redis.asyncio import Redis

from exam_api.assignments import assign, attempt_class_id
from proctor.settings import Settings
from tests.support.clock import SteppedClock
from tests.support.devices import pc_camera, phone_proves_camera
from tests.support.hub_client import DeviceClient, HubAttempt, new_attempt
from tests.support.live import LiveServer, start_live_server
from tests.support.recorded import Recorded, recorded
from tests.support.users import create_user, login_cookies
from tests.support.waits import eventually

STEP_S = 2.0  # the fake clock's step between two switches: past rule H3's 1 s click window


@pytest.fixture(scope="module")
def clock() -> SteppedClock:
    """The hub processes' clock, moved by the tests instead of sleeping."""
    return SteppedClock()


@pytest.fixture(scope="module")
async def server(
    settings: Settings, pool: asyncpg.Pool, clock: SteppedClock
) -> AsyncIterator[LiveServer]:
    """A hub process on the test's clock (passed in, as every collaborator is)."""
    live = await start_live_server(settings, clock=clock)
    yield live
    await live.stop()


@pytest.fixture(scope="module")
async def server_b(
    settings: Settings, server: LiveServer, clock: SteppedClock
) -> AsyncIterator[LiveServer]:
    """A second hub process on the same Redis, PostgreSQL and clock."""
    live = await start_live_server(settings, clock=clock)
    yield live
    await live.stop()


@pytest.fixture
async def attempt(pool: asyncpg.Pool, settings: Settings) -> HubAttempt:
    return await new_attempt(pool, settings)


async def _both(server: LiveServer, attempt: HubAttempt) -> tuple[DeviceClient, DeviceClient]:
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    return pc, phone


async def _switch_away(pc: DeviceClient, clock: SteppedClock) -> None:
    clock.advance(STEP_S)  # a new switch, well apart from the last one
    for cause in ("visibility", "blur"):
        assert (await pc.call("focus", state="lost", cause=cause))["type"] == "ack"
    assert (await pc.call("focus", state="back"))["type"] == "ack"


async def _attempt_row(pool: asyncpg.Pool, attempt_id: int) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row: asyncpg.Record = await conn.fetchrow(
            "SELECT status, end_reason, violations FROM attempts WHERE id = $1", attempt_id
        )
    return row


async def test_fifth_violation_ends_the_attempt_on_both_devices(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool, clock: SteppedClock
) -> None:
    # rule E3 / G4: the 5th violation ends and submits; "n of 5" after each
    pc, phone = await _both(server, attempt)
    try:
        for n in range(1, 5):
            await _switch_away(pc, clock)
            assert (await pc.wait_for("violation"))["count"] == n
            assert (await phone.wait_for("violation"))["count"] == n
            # durable before the ack (checked right after the ack, no waiting)
            async with pool.acquire() as conn:
                rows = await conn.fetchval(
                    "SELECT count(*) FROM attempt_violations WHERE attempt_id = $1",
                    attempt.attempt_id,
                )
            assert rows == n
        clock.advance(STEP_S)
        ack = await pc.call("click_outside")
        assert ack["type"] == "ack"
        # the end is in PostgreSQL before the ack
        row = await _attempt_row(pool, attempt.attempt_id)
        assert (row["status"], row["end_reason"], row["violations"]) == (
            "ended",
            "fifth_violation",
            5,
        )
        for device in (pc, phone):
            ended = await device.wait_for("ended")
            assert ended["reason"] == "fifth_violation" and ended["violations"] == 5
        code, _ = await pc.closed()
        assert code == 4410
        # events after the end get an error with a reason, not a count
        late = await phone.call("camera", state="live")
        assert late["type"] == "error" and late["code"] == "ended"
    finally:
        await pc.close()
        await phone.close()


async def test_timeout_ends_with_both_devices_offline(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings, clock: SteppedClock
) -> None:
    # rule E4: the server clock ends the attempt; no device needs to be there
    attempt = await new_attempt(pool, settings)
    pc, phone = await _both(server, attempt)
    await pc.close()
    await phone.close()
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE attempts SET deadline_at = $2 WHERE id = $1",
            attempt.attempt_id,
            datetime.now(UTC) - timedelta(seconds=1),
        )

    async def ended() -> asyncpg.Record | None:
        row = await _attempt_row(pool, attempt.attempt_id)
        return row if row["status"] == "ended" else None

    row = await eventually(ended)
    assert row["end_reason"] == "time_up"
    # a device coming back learns the end and is closed
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    assert (await pc.wait_for("ended"))["reason"] == "time_up"
    assert (await pc.closed())[0] == 4410


async def test_time_up_reaches_connected_devices(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    attempt = await new_attempt(pool, settings)
    pc, phone = await _both(server, attempt)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE attempts SET deadline_at = now() WHERE id = $1", attempt.attempt_id
            )
        # the hub read its deadline at connect; the scheduler reads PostgreSQL
        for device in (pc, phone):
            assert (await device.wait_for("ended"))["reason"] == "time_up"
    finally:
        await pc.close()
        await phone.close()


async def test_pc_and_phone_on_two_hub_processes_agree(
    server: LiveServer, server_b: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # rule H8: a session's devices may sit on different processes
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    phone = await DeviceClient.connect(server_b.ws_url, "phone", attempt.phone_token)
    try:
        # the phone's photo on process B, the PC's video on process A (H9)
        assert (await phone_proves_camera(phone))["type"] == "ack"
        peer = await pc_camera(server.ws_url, attempt.pc_token)
        state = await pc.wait_for("state", can_answer=True)
        await peer.close()
        assert state["devices"]["phone"]["camera"] == "live"
        # both processes count violations into one ledger
        await pc.call("click_outside")
        assert (await phone.wait_for("violation"))["count"] == 1
        assert (await phone.call("phone_start"))["type"] == "ack"
        capture = await phone.wait_for("capture")
        assert capture["reason"] == "start"
        # an end decided on process B reaches the PC on process A
        assert (await pc.call("submit"))["type"] == "ack"
        assert (await phone.wait_for("ended"))["reason"] == "submitted"
        row = await _attempt_row(pool, attempt.attempt_id)
        assert (row["status"], row["end_reason"], row["violations"]) == ("ended", "submitted", 1)
    finally:
        await pc.close()
        await phone.close()


async def test_dropped_and_resumed_connection_loses_and_double_counts_nothing(
    server: LiveServer,
    server_b: LiveServer,
    attempt: HubAttempt,
    redis: Redis,
    settings: Settings,
    pool: asyncpg.Pool,
    clock: SteppedClock,
) -> None:
    # rule H1 / E7: resume exactly; a resend is dropped, never counted twice
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    assert (await pc.call("heartbeat"))["type"] == "ack"
    assert (await pc.call("focus", state="lost", cause="blur"))["type"] == "ack"
    assert (await pc.call("focus", state="back"))["type"] == "ack"
    clock.advance(STEP_S)
    # three more sent, then the connection drops without waiting for the acks
    sent = [
        ("heartbeat", {}),
        ("click_outside", {}),
        ("heartbeat", {}),
    ]
    for kind, fields in sent:
        await pc.send(kind, **fields)
    pc.ws.transport.abort()  # a dropped network: no close handshake

    async def outage_seen() -> bool:
        raw = await redis.hget(f"{settings.redis_prefix}:{{att:{attempt.attempt_id}}}:state", "s")
        return raw is not None and json.loads(raw)["d"]["pc"]["c"] is False

    await eventually(outage_seen)
    # the device comes back on the other process and resends all it has not seen acked
    again = await DeviceClient.connect(server_b.ws_url, "pc", attempt.pc_token, resume=True)
    last_acked = again.welcome["last_acked"]
    assert 3 <= last_acked <= 6
    again.seq = 3
    for kind, fields in sent:
        ack = await again.call(kind, **fields)
        assert ack["type"] == "ack"
        assert ack.get("duplicate", False) is (ack["seq"] <= last_acked)
    try:
        state = await _shared_state(redis, settings, attempt.attempt_id)
        assert state["violations"] == 2  # the blur, the click: each once

        # the record: the stream's entries once in PostgreSQL (the worker trims
        # the stream to what is not there yet, hub/trim.py)
        async def all_recorded() -> list[Recorded]:
            entries = await recorded(pool, attempt.attempt_id)
            kinds = {e.kind for e in entries}
            beats = [e for e in entries if e.kind == "heartbeat" and e.device == "pc"]
            return entries if len(beats) >= 3 and "outage_end" in kinds else []

        entries = await eventually(all_recorded)
        heartbeat_seqs = sorted(
            int(e.data["seq"]) for e in entries if e.kind == "heartbeat" and e.device == "pc"
        )
        assert heartbeat_seqs == [1, 4, 6]
        async with pool.acquire() as conn:
            count = await conn.fetchval(
                "SELECT count(*) FROM attempt_violations WHERE attempt_id = $1",
                attempt.attempt_id,
            )
        assert count == 2
        # the drop was an outage, not a violation (rule H1)
        kinds = [e.kind for e in entries]
        assert "outage_start" in kinds and "outage_end" in kinds
    finally:
        await again.close()


async def _shared_state(redis: Redis, settings: Settings, attempt_id: int) -> dict[str, int]:
    raw = await redis.hgetall(f"{settings.redis_prefix}:{{att:{attempt_id}}}:state")
    return {"violations": int(raw[b"violations"]), "version": int(raw[b"v"])}


async def test_heartbeats_reach_postgres_through_the_worker(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # rule G3: telemetry goes to the stream, then to PostgreSQL in batches
    pc, phone = await _both(server, attempt)
    try:
        for device in (pc, phone):
            assert (await device.call("heartbeat"))["type"] == "ack"
    finally:
        await pc.close()
        await phone.close()

    async def persisted() -> set[str]:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT device FROM attempt_events WHERE attempt_id = $1 AND kind = 'heartbeat'",
                attempt.attempt_id,
            )
        got = {r["device"] for r in rows}
        return got if {"pc", "phone"} <= got else set()

    assert await eventually(persisted) == {"pc", "phone"}


async def test_second_connection_of_a_device_replaces_the_first(
    server: LiveServer, server_b: LiveServer, attempt: HubAttempt
) -> None:
    first = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    second = await DeviceClient.connect(server_b.ws_url, "pc", attempt.pc_token)
    try:
        assert (await first.closed())[0] == 4409
        assert (await second.call("heartbeat"))["type"] == "ack"
    finally:
        await second.close()


async def test_phone_early_end_asks_and_is_recorded(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # rule D5
    pc, phone = await _both(server, attempt)
    try:
        assert (await phone.call("phone_end"))["type"] == "ack"
        confirm = await phone.wait_for("confirm")
        assert confirm["action"] == "phone_end" and confirm["message"]
        assert (await phone.call("phone_end", confirmed=True))["type"] == "ack"
        async with pool.acquire() as conn:
            early = await conn.fetchval(
                """SELECT data->>'early' FROM attempt_events
                    WHERE attempt_id = $1 AND kind = 'phone_end'""",
                attempt.attempt_id,
            )
        # stored as a JSON object, not a JSON string: SQL can read its keys
        assert early == "true"
    finally:
        await pc.close()
        await phone.close()


async def test_violation_duration_reaches_postgres(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool, clock: SteppedClock
) -> None:
    # rule H3: a violation keeps its kind and how long the candidate was away
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        assert (await pc.call("focus", state="lost", cause="visibility"))["type"] == "ack"
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT kind, ended_at FROM attempt_violations WHERE attempt_id = $1",
                attempt.attempt_id,
            )
        assert row["kind"] == "tab_hidden" and row["ended_at"] is None  # durable at once
        clock.advance(0.3)
        assert (await pc.call("focus", state="back"))["type"] == "ack"
    finally:
        await pc.close()

    async def closed() -> asyncpg.Record | None:
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT duration_s, ended_at FROM attempt_violations WHERE attempt_id = $1",
                attempt.attempt_id,
            )
        return row if row["ended_at"] is not None else None

    row = await eventually(closed)
    assert row["duration_s"] >= 0.3


async def test_fifth_violation_by_leaving_the_page_is_stored_closed(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool, clock: SteppedClock
) -> None:
    # rule E3/H3: the 5th switch ends the attempt while the candidate is away;
    # the end closes that violation and both views of it are stored in order
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        for _ in range(4):
            clock.advance(STEP_S)
            assert (await pc.call("click_outside"))["type"] == "ack"
        clock.advance(STEP_S)
        assert (await pc.call("focus", state="lost", cause="visibility"))["type"] == "ack"
        assert (await pc.wait_for("ended"))["reason"] == "fifth_violation"
    finally:
        await pc.close()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT kind, ended_at FROM attempt_violations WHERE attempt_id = $1 AND idx = 5",
            attempt.attempt_id,
        )
    assert row["kind"] == "tab_hidden" and row["ended_at"] is not None


async def test_the_end_reaches_a_watcher_on_another_process(
    server: LiveServer, server_b: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # rule G5/H8: an invigilator watching on process B sees the end decided on A
    invigilator = await create_user(pool, role="invigilator")
    async with pool.acquire() as conn:
        class_id = await attempt_class_id(conn, attempt.attempt_id)
        assert class_id is not None
        await assign(conn, class_id, invigilator.id)  # rule G5: the attempt's room
    login = await login_cookies(pool, invigilator.id)
    cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
    url = f"{server_b.ws_url}/ws/watch?attempt={attempt.attempt_id}"
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        async with websockets.connect(url, additional_headers={"Cookie": cookie}) as watch:
            assert json.loads(await watch.recv())["type"] == "state"
            assert (await pc.call("submit"))["type"] == "ack"
            seen: list[dict[str, object]] = []
            while not seen or seen[-1]["type"] != "ended":
                seen.append(json.loads(await asyncio.wait_for(watch.recv(), 10)))
            assert seen[-1]["reason"] == "submitted"
    finally:
        await pc.close()


async def test_durable_event_data_is_stored_as_objects(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # rules E3, H3: a violation's record in attempt_events is a JSON object
    # whose keys SQL reads (not a JSON string holding one)
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        assert (await pc.call("click_outside"))["type"] == "ack"
    finally:
        await pc.close()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT jsonb_typeof(data) AS type, data->>'kind' AS kind,
                      (data->>'index')::int AS index, data
                 FROM attempt_events WHERE attempt_id = $1 AND kind = 'violation'
                ORDER BY stream_id LIMIT 1""",
            attempt.attempt_id,
        )
    assert row is not None
    assert (row["type"], row["kind"], row["index"]) == ("object", "click_outside", 1)
    assert isinstance(row["data"], dict)  # what readers (the timeline) get
