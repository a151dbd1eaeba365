"""``GET /metrics`` (rule O2): the process's figures in Prometheus' format,
counted by the components the wiring passed the registry to."""

from __future__ import annotations

import asyncpg
import httpx

from proctor.settings import Settings
from tests.support.hub_client import DeviceClient, new_attempt
from tests.support.live import LiveServer


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
