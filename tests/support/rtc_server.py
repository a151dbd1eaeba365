"""A live server of its own for the WebRTC tests: short random snapshot gaps.

Import the two fixtures into a conftest or test module that needs them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import asyncpg
import pytest

from proctor.settings import Settings
from tests.support.live import LiveServer, start_live_server


@pytest.fixture(scope="session")
def rtc_settings(settings: Settings) -> Settings:
    # rule E2 with gaps of seconds instead of ~45 s, so tests see random shots.
    return dataclasses.replace(settings, snapshot_mean_interval_s=3.0, snapshot_min_gap_s=1.0)


@pytest.fixture(scope="session")
async def rtc_server(rtc_settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[LiveServer]:
    live = await start_live_server(rtc_settings)
    yield live
    await live.stop()
