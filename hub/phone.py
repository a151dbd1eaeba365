"""The phone's part of the exam session (rules D4, D5, E2, H9, H10): capture
requests, the photos that answer them, the phone's start, returns and end.

A mixin of :class:`hub.session.Session` (one concept per module): pure, no I/O,
time passed in; the state it reads and writes is the session's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.captures import CaptureId
from hub.devices import Camera
from hub.errors import NotAllowed, SessionEnded
from hub.outputs import Outputs, Record, Send

MAX_OPEN_CAPTURES = 32


class PhoneRules:
    """The phone's events; the fields are the session's (``hub/session.py``)."""

    capture_seq: int
    captures: dict[int, str]
    capture_at: dict[int, float]
    phone_started_at: float | None
    phone_finished_at: float | None
    ended_at: float | None

    if TYPE_CHECKING:

        @property
        def ended(self) -> bool: ...

        def _begin(self, now: float) -> Outputs | None: ...

        def _ended_reason(self) -> str: ...

        def _set_camera(self, device: str, state: Camera, now: float, source: str) -> Outputs: ...

        def state_message(self, now: float) -> dict[str, Any]: ...

    def _capture(self, label: str, now: float) -> Send:
        """A capture request to the phone; ``label`` is a capture id
        (``hub/captures.py``) or the phone's own reason (start, return …)."""
        self.capture_seq += 1
        self.captures[self.capture_seq] = label
        self.capture_at[self.capture_seq] = now
        while len(self.captures) > MAX_OPEN_CAPTURES:  # bounded: the oldest is given up
            oldest = min(self.captures)
            del self.captures[oldest]
            self.capture_at.pop(oldest, None)
        return self._capture_message(self.capture_seq, now)

    def _capture_message(self, request_id: int, now: float) -> Send:
        label = self.captures[request_id]
        parsed = CaptureId.parse(label)
        reason = label if parsed is None else parsed.reason
        return Send(
            "phone",
            {"type": "capture", "request_id": request_id, "reason": reason, "at": now},
        )

    def capture_request(self, reason: str, now: float) -> Outputs:
        """Ask the phone for a photo (random snapshots, rule E2, or a violation)."""
        ended = self._begin(now)
        if ended is not None:
            return ended
        return Outputs(sends=[self._capture(reason, now)])

    def phone_start(self, now: float) -> Outputs:
        """Rule D4: the phone's start takes a photo at once."""
        ended = self._begin(now)
        if ended is not None:
            return ended
        self._phone_running()
        if self.phone_started_at is None:
            self.phone_started_at = now
        return Outputs(
            sends=[self._capture("start", now)],
            records=[Record("phone_start", "phone", now, {})],
        )

    def page_return(self, now: float) -> Outputs:
        """Rule D4: every return to the phone's exam page takes a photo."""
        ended = self._begin(now)
        if ended is not None:
            return ended
        self._phone_running()
        return Outputs(
            sends=[self._capture("return", now)],
            records=[Record("page_return", "phone", now, {})],
        )

    def photo_label(self, request_id: int) -> str | None:
        """The label of an open capture request (what its photo is stored as)."""
        return self.captures.get(request_id)

    def photo(self, request_id: int, size: int, now: float) -> Outputs:
        """The phone sent the photo for an open capture request: stored, and
        the phone camera measured live (rule H9). Rule H10: a request issued
        before the end is still answered after it (the fifth violation's)."""
        if self.ended:
            issued = self.capture_at.get(request_id)
            if issued is None or self.ended_at is None or issued > self.ended_at:
                raise SessionEnded(self._ended_reason())
        else:
            ended = self._begin(now)
            if ended is not None:
                return ended
        label = self.captures.pop(request_id, None)
        issued = self.capture_at.pop(request_id, None)
        if label is None:
            raise NotAllowed("unknown_capture", f"no open capture request {request_id}")
        out = Outputs(
            records=[
                Record(
                    "photo",
                    "phone",
                    now,
                    {
                        "request_id": request_id,
                        "reason": label,
                        "bytes": size,
                        "delay_s": None if issued is None else round(now - issued, 3),
                    },
                )
            ]
        )
        # rule D4 + H9: live once started (placed, start tapped) and answering
        running = self.phone_started_at is not None and self.phone_finished_at is None
        if not self.ended and running:
            out.extend(self._set_camera("phone", Camera.LIVE, now, "photo"))
        return out

    def phone_end(self, confirmed: bool, now: float) -> Outputs:
        """Rule D5: the phone ends its part after the PC; earlier it must
        confirm, and the early end is recorded for the review."""
        if self.ended:
            if self.phone_finished_at is None:
                self.phone_finished_at = now
            return Outputs(records=[Record("phone_end", "phone", now, {"early": False})])
        ended = self._begin(now)
        if ended is not None:
            return ended
        self._phone_running()
        if not confirmed:
            return Outputs(
                sends=[
                    Send(
                        "phone",
                        {
                            "type": "confirm",
                            "action": "phone_end",
                            "message": "电脑端考试尚未结束，提前结束手机监控将被记录并可能影响审核结果。确定结束吗？",
                        },
                    )
                ]
            )
        self.phone_finished_at = now
        return Outputs(
            records=[Record("phone_end", "phone", now, {"early": True}, durable=True)],
            sends=[Send("all", self.state_message(now))],
        )

    def _phone_running(self) -> None:
        if self.phone_finished_at is not None:
            raise NotAllowed("phone_finished", "the phone has already ended its part")
