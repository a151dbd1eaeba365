"""PostgreSQL stops mid-exam (issue #9, durability): a violation is never
acknowledged unless it is in PostgreSQL — not in the ack, not in a later
``welcome.last_acked`` — and once PostgreSQL is back the resent event is
stored once. A dedicated embedded PostgreSQL, so stopping it harms no other
test; the shared Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import websockets

from proctor.db import apply_schema, create_pool
from proctor.embedded import EmbeddedPostgres
from proctor.settings import Settings
from tests.support.hub_client import DeviceClient, new_attempt
from tests.support.live import LiveServer, start_live_server
from tests.support.users import login_cookies
from tests.support.waits import eventually


@dataclasses.dataclass
class Outage:
    pg: EmbeddedPostgres
    server: LiveServer
    pool: asyncpg.Pool
    url: str


@pytest.fixture(scope="module")
async def outage(settings: Settings) -> AsyncIterator[Outage]:
    # a folder of its own outside pytest's: PostgreSQL runs as its own system
    # user, and a concurrent pytest resets its temporary root to mode 700
    tmp_path = Path(tempfile.mkdtemp(prefix="proctor-pg-outage-"))
    tmp_path.chmod(0o755)
    pg = EmbeddedPostgres(tmp_path / "own-pg")
    url = await asyncio.to_thread(pg.start)
    own = dataclasses.replace(
        settings,
        database_url=url,
        data_dir=tmp_path / "data",
        redis_prefix=f"{settings.redis_prefix}-pgdown",
    )
    pool = await create_pool(url, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await apply_schema(conn)
    server = await start_live_server(own)
    try:
        yield Outage(pg, server, pool, url)
    finally:
        await server.stop()
        await pool.close()
        await asyncio.to_thread(pg.stop)
        shutil.rmtree(tmp_path, ignore_errors=True)


async def _violations(url: str, attempt_id: int) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM attempt_violations WHERE attempt_id = $1", attempt_id
        )
        return count
    finally:
        await conn.close()


async def test_no_violation_is_acknowledged_while_postgresql_is_down(
    outage: Outage, settings: Settings
) -> None:
    own = dataclasses.replace(settings, database_url=outage.url)
    attempt = await new_attempt(outage.pool, own)
    pc = await DeviceClient.connect(outage.server.ws_url, "pc", attempt.pc_token)
    assert (await pc.call("heartbeat"))["type"] == "ack"
    await asyncio.to_thread(outage.pg.stop)  # the postmaster goes away mid-exam
    try:
        seq = await pc.send("focus", state="lost", cause="visibility")
        answers = []
        with pytest.raises(websockets.ConnectionClosed):
            while True:  # no ack for it: the connection is closed instead
                answers.append(await pc.recv())
        assert not [m for m in answers if m["type"] == "ack" and m.get("seq") == seq]
        # reconnecting while PostgreSQL is down: refused, or a welcome that
        # does not name the violation as stored — never one that does
        try:
            again: DeviceClient | None = await DeviceClient.connect(
                outage.server.ws_url, "pc", attempt.pc_token, resume=True
            )
        except (websockets.ConnectionClosed, TimeoutError, OSError):
            again = None
        if again is not None:
            assert again.welcome["last_acked"] < seq
            await again.close()
        async with httpx.AsyncClient(base_url=outage.server.url) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["postgres"] != "ok"
    finally:
        await asyncio.to_thread(outage.pg.start)  # same data folder, same socket

    async def welcomed() -> DeviceClient | None:
        try:
            return await DeviceClient.connect(
                outage.server.ws_url, "pc", attempt.pc_token, resume=True
            )
        except (websockets.ConnectionClosed, OSError, AssertionError, TimeoutError):
            return None

    back = await eventually(welcomed, within=60)
    try:
        # the shared state had counted it: PostgreSQL holds it before the welcome says so
        if back.welcome["last_acked"] >= seq:
            assert await _violations(outage.url, attempt.attempt_id) == 1
        else:  # not counted: the client resends it, and it is stored once
            back.seq = back.welcome["last_acked"]
            ack = await back.call("focus", state="lost", cause="visibility")
            assert ack["type"] == "ack"
            assert await _violations(outage.url, attempt.attempt_id) == 1
        again = await back.call("heartbeat")
        assert again["type"] == "ack"
    finally:
        await back.close()

    async def ready() -> bool:
        async with httpx.AsyncClient(base_url=outage.server.url) as http:
            return (await http.get("/readyz")).status_code == 200

    assert await eventually(ready, within=30)  # /readyz tells the truth again
    assert await _violations(outage.url, attempt.attempt_id) == 1


async def test_answers_during_an_outage_get_a_503_the_page_understands(
    outage: Outage, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # a 503 with a code (the exam page keeps the answer and retries), and one
    # log line for the outage, not a traceback per request
    own = dataclasses.replace(settings, database_url=outage.url)
    attempt = await new_attempt(outage.pool, own)
    login = await login_cookies(outage.pool, attempt.user_id)
    await asyncio.to_thread(outage.pg.stop)
    caplog.set_level("ERROR")
    try:
        async with httpx.AsyncClient(
            base_url=outage.server.url, cookies=login.cookies, headers=login.headers
        ) as http:
            for _ in range(5):
                r = await http.put(
                    f"/api/attempts/{attempt.attempt_id}/answers/1", json={"answer": "A"}
                )
                assert r.status_code == 503, r.text
                assert r.json()["error"] == "service_unavailable"
                assert "答案" in r.json()["message"] and r.headers["retry-after"]
    finally:
        await asyncio.to_thread(outage.pg.start)
    outage_lines = [r for r in caplog.records if r.name == "proctor.outages"]
    assert len(outage_lines) == 1  # one line for five failed requests
    # the background passes say it once each, not a traceback every pass
    for name in ("hub.persist", "hub.deadlines"):
        assert len([r for r in caplog.records if r.name == name]) <= 1
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("uvicorn")]
