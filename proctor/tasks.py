"""Background task lifecycle shared by every component: a loop that runs one
step, pauses, and survives a failed step; and a stop that cancels and awaits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from proctor.outages import service_of


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it is done (a component's ``stop()``)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class FailureLog:
    """Logs a failing background pass once per change of state: the first
    failure with its traceback, then silence while it keeps failing the same
    way, then one line when a pass succeeds again (an outage of PostgreSQL or
    Redis is one line each way, not a traceback every half second)."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._failing: str | None = None
        self._failures = 0

    def failed(self, exc: BaseException, retry_s: float) -> None:
        # one outage is one state however its errors change on the way down
        # (PostgreSQL "shutting down", then its socket gone): the service's name
        kind = service_of(exc) or type(exc).__name__
        self._failures += 1
        if kind != self._failing:
            self._failing = kind
            self._log.error("%s failed; retrying every %ss", self._what, retry_s, exc_info=exc)

    def succeeded(self) -> None:
        if self._failing is not None:
            self._log.warning("%s works again after %d failed passes", self._what, self._failures)
            self._failing, self._failures = None, 0


async def run_every(
    step: Callable[[], Awaitable[Any]], interval_s: float, log: logging.Logger, what: str
) -> None:
    """Run ``step`` forever, ``interval_s`` apart. A failed step is logged
    (once per change of state) and tried again next time: a background pass
    must never end the process."""
    failures = FailureLog(log, what)
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures.failed(exc, interval_s)
        else:
            failures.succeeded()
        await asyncio.sleep(interval_s)
