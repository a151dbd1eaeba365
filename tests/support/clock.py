"""A clock the test moves by hand (the production code takes a ``Clock``)."""

from __future__ import annotations

import time


class FakeClock:
    def __init__(self, now: float | None = None) -> None:
        self._now = time.time() if now is None else now
        self._mono = 1000.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._mono += seconds

    def set(self, now: float) -> None:
        self._mono += max(0.0, now - self._now)
        self._now = now
