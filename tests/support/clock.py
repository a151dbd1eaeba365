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


class SteppedClock:
    """The real clock plus the steps a test takes: time flows as usual for
    the parts of a live server the test does not drive (deadlines it moves in
    the database), and a test that needs "two seconds later" steps instead of
    sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
