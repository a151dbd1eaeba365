"""PostgreSQL or Redis down: a 503 with a code the pages understand (the
exam page keeps the answer and retries), and one log line per change of
state instead of a traceback per request."""

from __future__ import annotations

import logging
import time

import asyncpg
import redis.exceptions
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

SERVICE_DOWN_MESSAGE = "服务暂时不可用，您的答案已保留在页面上，系统会自动重试。"


def service_of(exc: BaseException) -> str | None:
    """``postgres`` / ``redis`` when ``exc`` says that service is unreachable."""
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return "redis"
    if isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.InterfaceError
        | asyncpg.exceptions.AdminShutdownError,
    ):
        return "postgres"
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return "postgres"  # asyncpg's pool raises plain OSErrors while reconnecting
    return None


class OutageLog:
    """Remembers which services are down; logs each change once."""

    ERRORS: tuple[type[BaseException], ...] = (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.AdminShutdownError,
        ConnectionError,
        TimeoutError,
        OSError,
    )

    def __init__(self) -> None:
        self.down: dict[str, float] = {}

    def failed(self, service: str, exc: BaseException) -> None:
        if service not in self.down:
            self.down[service] = time.time()
            log.error("%s is unreachable (%s: %s); answering 503", service, type(exc).__name__, exc)

    def answered(self, service: str) -> None:
        since = self.down.pop(service, None)
        if since is not None:
            log.warning("%s answers again after %.1f s", service, time.time() - since)


def outage_response(outages: OutageLog, request: Request, exc: Exception) -> Response:
    service = service_of(exc) or "postgres"
    outages.failed(service, exc)
    return JSONResponse(
        {"error": "service_unavailable", "message": SERVICE_DOWN_MESSAGE, "service": service},
        status_code=503,
        headers={"Retry-After": "2"},
    )
