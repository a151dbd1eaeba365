"""Camera liveness: is a device's video still arriving? (rules D1, H2)

Pure and sans-I/O: feed it what the adapter saw (when the last frame came,
whether the track ended) and ``now``; it answers the camera's state and says
when that state changed. The PC side is fed by the keyframe tap; the hub can
feed the phone side the same way (time of the last phone heartbeat that said
its camera was on).

With the page sending at least 3 frames/s and the monitor ticking every
0.5 s, a stop is reported within ``stale_after_s + tick`` = 2.5 s (< 3 s).
"""

from __future__ import annotations

from typing import Literal

CameraState = Literal["waiting", "live", "stalled", "ended"]


class CameraLiveness:
    """State of one device's camera: waiting → live ⇄ stalled → ended."""

    def __init__(self, stale_after_s: float = 2.0) -> None:
        assert stale_after_s > 0
        self.stale_after_s = stale_after_s
        self.state: CameraState = "waiting"
        self.since: float | None = None

    def observe(
        self, now: float, last_frame_at: float | None, ended: bool, muted: bool = False
    ) -> CameraState | None:
        """Update from one observation; returns the new state if it changed.

        ``muted``: the device itself reported its camera track muted.
        """
        new = self._classify(now, last_frame_at, ended, muted)
        if new == self.state:
            return None
        self.state = new
        self.since = now
        return new

    def _classify(
        self, now: float, last_frame_at: float | None, ended: bool, muted: bool
    ) -> CameraState:
        if ended or self.state == "ended":
            return "ended"  # terminal: a new peer gets a new tracker
        if last_frame_at is None:
            return "stalled" if muted and self.state != "waiting" else "waiting"
        if muted or now - last_frame_at > self.stale_after_s:
            return "stalled"
        return "live"
