"""``GET /metrics`` (rule O2): the process's figures in Prometheus' format,
counted by the components the wiring passed the registry to."""

from __future__ import annotations

import json

import asyncpg
import httpx
import websockets

from exam_api.assignments import assign, attempt_class_id
from proctor.settings import Settings
from tests.support.hub_client import DeviceClient, new_attempt
from tests.support.live import LiveServer
from tests.support.users import create_user, login_cookies


def _value(text: str, name: str) -> float:
    """The sum of a metric's samples (all label sets) in an exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_count_sockets_messages_and_violations(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    attempt = await new_attempt(pool, settings)
    async with httpx.AsyncClient(base_url=server.url) as http:
        before = (await http.get("/metrics")).text
        pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
        try:
            assert (await pc.call("heartbeat"))["type"] == "ack"
            assert (await pc.call("click_outside"))["type"] == "ack"
            during = await http.get("/metrics")
        finally:
            await pc.close()
    assert during.status_code == 200
    assert during.headers["content-type"].startswith("text/plain")
    text = during.text
    assert 'proctor_sockets{device="pc"}' in text
    assert _value(text, 'proctor_sockets{device="pc"}') >= 1
    assert (
        _value(text, "proctor_violations_total") >= _value(before, "proctor_violations_total") + 1
    )
    assert _value(text, 'proctor_messages_total{type="Heartbeat"}') >= 1
    assert _value(text, "proctor_ack_seconds_count") >= 2
    assert "proctor_loop_lag_seconds" in text


async def test_metrics_count_an_invigilators_watch_socket(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # which process holds a wall's socket is measured there (the cluster's
    # browser test proves placement with it, tests/faults/test_cluster_browser.py)
    attempt = await new_attempt(pool, settings)
    invigilator = await create_user(pool, role="invigilator")
    async with pool.acquire() as conn:
        class_id = await attempt_class_id(conn, attempt.attempt_id)
        assert class_id is not None
        await assign(conn, class_id, invigilator.id)  # rule G5: the attempt's room
    login = await login_cookies(pool, invigilator.id)
    cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
    url = f"{server.ws_url}/ws/watch?attempt={attempt.attempt_id}"
    async with httpx.AsyncClient(base_url=server.url) as http:
        before = _value((await http.get("/metrics")).text, 'proctor_sockets{device="watch"}')
        async with websockets.connect(url, additional_headers={"Cookie": cookie}) as watch:
            assert json.loads(await watch.recv())["type"] == "state"
            during = _value((await http.get("/metrics")).text, 'proctor_sockets{device="watch"}')
    assert during == before + 1
