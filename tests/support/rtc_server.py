"""A live server of its own for the WebRTC tests: short random snapshot gaps;
a second web process beside it (rule H8), and the wait for the PC camera a
peer sends to be live in the shared session.

Import the fixtures into a conftest or test module that needs them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from hub.devices import Camera
from hub.keys import Keys
from hub.state_schema import read_views
from proctor.settings import Settings
from tests.support.live import LiveServer, start_live_server
from tests.support.waits import eventually


@pytest.fixture(scope="session")
def rtc_settings(settings: Settings) -> Settings:
    # rule E2 with gaps of seconds instead of ~45 s, so tests see random shots.
    return dataclasses.replace(settings, snapshot_mean_interval_s=3.0, snapshot_min_gap_s=1.0)


@pytest.fixture(scope="session")
async def rtc_server(rtc_settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[LiveServer]:
    live = await start_live_server(rtc_settings)
    yield live
    await live.stop()


@pytest.fixture(scope="module")
async def other_server(rtc_settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[LiveServer]:
    """A second web process on the same Redis and PostgreSQL."""
    live = await start_live_server(rtc_settings)
    yield live
    await live.stop()


async def wait_pc_camera_live(server: LiveServer, redis: Any, keys: Keys, attempt_id: int) -> None:
    """Until the shared session says the attempt's PC camera is live (the
    ingest's measurement, rule H9), at ``server``'s clock; 20 s at most."""

    async def pc_live() -> bool:
        view = (await read_views(redis, keys, [attempt_id]))[attempt_id]
        session = view.session
        now = server.base.clock.now()
        return session is not None and session.camera_state("pc", now) is Camera.LIVE

    await eventually(pc_live, within=20)
