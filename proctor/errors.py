"""The one error base of the project.

Every error the packages raise on purpose is a :class:`ProctorError`: a stable
machine ``code``, a ``message`` a person can read (zh-CN where a candidate
sees it), the HTTP status and the websocket close code it maps onto. The app
registers one Starlette exception handler for the base (``proctor/app.py``),
so no endpoint translates errors by hand; the hub's websocket adapter uses
``close_code`` the same way.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

CLOSE_POLICY = 1008


class ProctorError(Exception):
    """Base of every deliberate error: ``code``, ``message``, ``http_status``,
    ``close_code`` (None: the websocket stays open and gets an error message)."""

    http_status: int = 400
    close_code: int | None = CLOSE_POLICY
    retry_after_s: int | None = None  # when to try again: Retry-After and the body's field

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        """The readable text (the hub's and the ingest's name for ``message``)."""
        return self.message

    def close_reason(self) -> str:
        """The websocket close reason: ``"code: text"``, at most 120 bytes."""
        return f"{self.code}: {self.message}"[:120]


class Unavailable(ProctorError):
    """A service the request needs (PostgreSQL, Redis) does not answer; the
    client keeps what it has and retries (the exam page does)."""

    http_status = 503
    close_code = 1013
    retry_after_s = 2


def error_response(request: Request, exc: Exception) -> Response:
    """The one mapping of an error onto HTTP: ``{"error": code, "message": …}``."""
    if not isinstance(exc, ProctorError):  # registered for the base only
        raise exc
    body: dict[str, object] = {"error": exc.code, "message": exc.message}
    headers = None
    retry = exc.retry_after_s if exc.retry_after_s is not None or exc.http_status != 503 else 2
    if retry is not None:
        body["retry_after_s"] = retry
        headers = {"Retry-After": str(retry)}
    return JSONResponse(body, status_code=exc.http_status, headers=headers)
