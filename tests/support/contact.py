"""Fixtures of the two-way contact tests (rule L1; tests/hub/test_contact.py,
tests/exam_api/test_contact.py): no running attempt left behind by a test,
and a second hub process. A test module imports them (and lists them in
``__all__``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from proctor.settings import Settings
from tests.support.invigilation import close_attempts_after, latest_attempt_id
from tests.support.live import LiveServer, start_live_server


@pytest.fixture(autouse=True)
async def no_running_attempt_left(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """The attempts of each test end with it (they hold unanswered calls,
    which sort first on every administrator's wall)."""
    before = await latest_attempt_id(pool)
    yield
    await close_attempts_after(pool, before)


@pytest.fixture(scope="module")
async def server_b(settings: Settings, server: LiveServer) -> AsyncIterator[LiveServer]:
    """A second hub process on the same Redis and PostgreSQL."""
    live = await start_live_server(settings)
    yield live
    await live.stop()
