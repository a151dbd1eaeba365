"""The PC's screen share (rules J1, J2): the second video of the PC's peer.

The exam page shares the whole screen (``getDisplayMedia``, refused unless
``displaySurface`` is ``"monitor"``) and sends it on the same peer
connection as the camera: the offer's first video section is the camera,
the second the screen (``docs/protocol.md``). The server does not take the
page's word for the share: it is live while frames arrive on that second
video (a :class:`~webrtc.keyframes.KeyframeTap` of its own, nothing decoded
until a snapshot is due), stalled when they stop, and ended with its track.
The page may only lower the state (its track ended, or it is not a whole
screen), never raise it — as for the camera (rule H9).

A screen share sends few frames (the page asks for 1 fps while idle, and a
still screen sends less), so it is called stalled only after
:data:`SCREEN_STALE_AFTER_S` without a frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webrtc.keyframes import KeyframeTap
from webrtc.liveness import CameraLiveness, CameraState

SCREEN_STALE_AFTER_S = 6.0
SCREEN_REMB_BPS = 600_000  # a 1280x720 screen at 1 fps with readable text
# What the page may say of its share: it only lowers the measured state.
PAGE_STATES = ("live", "ended", "not_monitor")


@dataclass
class ScreenFeed:
    """The screen half of one PC peer."""

    tap: KeyframeTap
    page_state: str = "live"
    liveness: CameraLiveness = field(
        default_factory=lambda: CameraLiveness(stale_after_s=SCREEN_STALE_AFTER_S)
    )

    def report(self, state: Any) -> None:
        """The page's word about its share (``{"type": "screen", "state": …}``)."""
        if state in PAGE_STATES:
            self.page_state = str(state)

    def observe(self, now: float, peer_gone: bool) -> CameraState | None:
        """One liveness step; the new state when it changed (``None`` else).

        A share the page calls ``not_monitor`` (a window or a tab, rule J1)
        counts as stalled: it blocks answering until a whole screen comes.
        """
        ended = peer_gone or self.tap.ended or self.page_state == "ended"
        partial = self.page_state == "not_monitor"
        return self.liveness.observe(now, self.tap.last_frame_at, ended, muted=partial)


def video_transceivers(transceivers: list[Any]) -> tuple[Any | None, Any | None]:
    """The camera's and the screen's transceivers of an answered offer, in
    the offer's order of video sections (camera first, screen second)."""
    videos = [t for t in transceivers if t.kind == "video"]
    camera = videos[0] if videos else None
    screen = videos[1] if len(videos) > 1 else None
    return camera, screen
