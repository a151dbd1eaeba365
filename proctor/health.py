"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proctor.state import base


async def healthz(request: Request) -> Response:
    """GET /healthz — the process is up."""
    return JSONResponse({"status": "ok"})


def _retrieve(task: asyncio.Task[None]) -> None:
    """A late probe's error is read, never logged as "never retrieved"."""
    if not task.cancelled():
        task.exception()


async def readyz(request: Request) -> Response:
    """GET /readyz — PostgreSQL and Redis answer within a second each."""
    res = base(request)
    checks: dict[str, str] = {}

    async def pg() -> None:
        async with res.pool.acquire(timeout=1) as conn:
            await conn.fetchval("SELECT 1")

    async def redis() -> None:
        await res.redis.ping()

    for name, probe in (("postgres", pg), ("redis", redis)):
        # Not wait_for: cancelling a query on a hung server waits for the server
        # too, so /readyz would hang instead of answering. A probe still running
        # after a second is left to end by itself (asyncpg's command timeout).
        task = asyncio.create_task(probe())
        task.add_done_callback(_retrieve)
        done, _ = await asyncio.wait({task}, timeout=1)
        exc = task.exception() if done else TimeoutError("no answer within 1 s")
        if exc is None:
            checks[name] = "ok"
            res.outages.answered(name)
        else:  # any failure means not ready; say which
            checks[name] = f"error: {type(exc).__name__}: {exc}"[:200]
            res.outages.failed(name, exc)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )
