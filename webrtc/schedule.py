"""When to take random snapshots of an attempt (rule E2).

Pure: the randomness source and ``now`` are parameters. Production passes a
``random.SystemRandom()`` so the times cannot be predicted by a client that
sees earlier ones; tests pass a seeded ``random.Random``.

Gaps are ``min_gap_s`` plus an exponential draw, so the process is close to
memoryless (a candidate learns nothing from the time since the last photo),
capped at ``max_gap_s`` so no attempt goes long without one. The cap trims
the mean slightly; :func:`gap_mean` gives the exact value.
"""

from __future__ import annotations

import math
import random
from typing import Literal

SnapshotReason = Literal["random", "start", "violation", "return_to_page", "manual"]
REASONS: tuple[SnapshotReason, ...] = ("random", "start", "violation", "return_to_page", "manual")


def gap_mean(mean_interval_s: float, min_gap_s: float, max_gap_s: float) -> float:
    """Exact mean of the capped gap: ``min + scale * (1 - exp(-(max-min)/scale))``."""
    scale = mean_interval_s - min_gap_s
    return min_gap_s + scale * (1.0 - math.exp(-(max_gap_s - min_gap_s) / scale))


class SnapshotSchedule:
    """Random snapshot times for one attempt.

    ``start(now)`` arms the first random time; ``due(now)`` says whether it has
    come; ``fire(now)`` consumes it and arms the next one.
    """

    def __init__(
        self,
        rng: random.Random,
        mean_interval_s: float = 45.0,
        min_gap_s: float = 10.0,
        max_gap_s: float | None = None,
    ) -> None:
        assert 0 <= min_gap_s < mean_interval_s
        self._rng = rng
        self.mean_interval_s = mean_interval_s
        self.min_gap_s = min_gap_s
        self.max_gap_s = max_gap_s if max_gap_s is not None else 3 * mean_interval_s
        assert self.max_gap_s > min_gap_s
        self.due_at: float | None = None

    def draw_gap(self) -> float:
        """One random gap in seconds, in ``[min_gap_s, max_gap_s]``."""
        gap = self.min_gap_s + self._rng.expovariate(1.0 / (self.mean_interval_s - self.min_gap_s))
        return min(gap, self.max_gap_s)

    def start(self, now: float) -> float:
        """Arm the first random snapshot; returns its time."""
        self.due_at = now + self.draw_gap()
        return self.due_at

    def due(self, now: float) -> bool:
        return self.due_at is not None and now >= self.due_at

    def fire(self, now: float) -> float:
        """Consume the due snapshot and arm the next; returns the next time."""
        assert self.due(now), "fire() before the snapshot is due"
        self.due_at = now + self.draw_gap()
        return self.due_at

    def stop(self) -> None:
        self.due_at = None
