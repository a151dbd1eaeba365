"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proctor.state import base


async def healthz(request: Request) -> Response:
    """GET /healthz — the process is up."""
    return JSONResponse({"status": "ok"})


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
        try:
            await asyncio.wait_for(probe(), timeout=1)
            checks[name] = "ok"
            res.outages.answered(name)
        except Exception as exc:  # any failure means not ready; say which
            checks[name] = f"error: {type(exc).__name__}: {exc}"[:200]
            res.outages.failed(name, exc)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )
