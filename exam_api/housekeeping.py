"""Housekeeping for the account tables: expired captchas, SMS codes, rate counters,
SSO sign-ins never finished, and uploads no request uses.

One background task with ``start()``/``stop()``; ``stop()`` cancels and awaits.
Keeps those tables bounded by time (rule A5 rows are short-lived by design).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import asyncpg

from exam_api import captcha, documents, oidc_logins, ratelimit, sms, uploads
from proctor.tasks import cancel_and_wait, run_every

log = logging.getLogger(__name__)


async def sweep_once(conn: object, uploads_root: Path, now: dt.datetime) -> dict[str, int]:
    return {
        "captchas": await captcha.sweep(conn, now),
        "sms_codes": await sms.sweep(conn, now),
        "rate_hits": await ratelimit.sweep(conn, now),
        "orphan_uploads": await documents.sweep_orphans(conn, uploads_root, now),
        "oidc_logins": await oidc_logins.sweep(conn, now),
    }


class Housekeeper:
    def __init__(self, pool: asyncpg.Pool, data_dir: Path, interval_s: float = 60.0) -> None:
        self._pool = pool
        self._data_dir = data_dir
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        assert self._task is None, "already started"
        self._task = asyncio.create_task(self._run(), name="accounts-housekeeping")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _sweep(self) -> None:
        async with self._pool.acquire() as conn:
            root = uploads.uploads_root(self._data_dir)
            await sweep_once(conn, root, dt.datetime.now(dt.UTC))

    async def _run(self) -> None:
        # a failed sweep is retried next round, never fatal
        await run_every(self._sweep, self._interval_s, log, "accounts housekeeping sweep")
