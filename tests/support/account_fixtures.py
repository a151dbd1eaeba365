"""Fixtures of the account API tests (tests/exam_api/test_accounts*.py): the
rate limits cleared before each test, and an anonymous HTTP client on the
live server. A test module imports them (and lists them in ``__all__``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.support.accounts import clear_rate_limits
from tests.support.live import LiveServer


@pytest.fixture(autouse=True)
async def fresh_rate_limits(pool: asyncpg.Pool) -> None:
    """Each test starts with no rate-limit hits (rule A5's counters)."""
    await clear_rate_limits(pool)


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client
