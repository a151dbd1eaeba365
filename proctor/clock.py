"""The clock, passed in (STYLE rule 2): logic takes ``now``; adapters ask a
:class:`Clock` for it, so tests drive time with a fake one instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Server time, seconds since the epoch (wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (timeouts, rates)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


def as_datetime(seconds: float) -> datetime:
    """Server seconds as an aware UTC datetime (what PostgreSQL stores)."""
    return datetime.fromtimestamp(seconds, UTC)
