"""Background task lifecycle shared by every component: a loop that runs one
step, pauses, and survives a failed step; and a stop that cancels and awaits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it is done (a component's ``stop()``)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def run_every(
    step: Callable[[], Awaitable[Any]], interval_s: float, log: logging.Logger, what: str
) -> None:
    """Run ``step`` forever, ``interval_s`` apart. A failed step is logged and
    tried again next time: a background pass must never end the process."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; retrying in %ss", what, interval_s)
        await asyncio.sleep(interval_s)
