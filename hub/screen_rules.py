"""The PC's whole-screen share as the ingest measures it (rules J1, D1).

A mixin of :class:`hub.session.Session` (one concept per module): pure, no
I/O, time passed in. The share's state is measured (frames arriving on the
offer's second video), never the page's word; with ``require_screen`` a
share that is not live blocks answering like a lost camera.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.devices import SCREEN, Camera
from hub.errors import NotAllowed
from hub.outputs import Outputs, Record, Send

if TYPE_CHECKING:
    from hub.session import Rules


class ScreenRules:
    """The screen share's state; the fields are the session's (``hub/session.py``)."""

    screen: Camera
    screen_since: float | None
    rules: Rules

    if TYPE_CHECKING:

        def cameras_live_without_screen(self, now: float) -> bool: ...

        def state_message(self, now: float) -> dict[str, object]: ...

    def cameras_live(self, now: float) -> bool:
        """Rule D1: both the PC webcam and the phone camera are live, as
        measured; with ``require_screen``, the screen share too (rule J1)."""
        if self.rules.require_screen and self.screen is not Camera.LIVE:
            return False
        return self.cameras_live_without_screen(now)

    def _set_screen(self, state: Camera, now: float) -> Outputs:
        if state is Camera.ASLEEP:
            raise NotAllowed("bad_camera_state", "a screen share cannot be asleep")
        if self.screen is state:
            return Outputs()
        previous, self.screen, self.screen_since = self.screen, state, now
        # on the timeline as the PC's screen record (rule J1)
        data = {"state": state.value, "previous": previous.value, "source": "measured"}
        return Outputs(
            records=[Record(SCREEN, "pc", now, data)],
            sends=[Send("all", self.state_message(now))],
        )
