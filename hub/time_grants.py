"""An invigilator's grants of time (rules M2, M3): extra time, and reopening
an attempt that a fault ended, with the time it had left.

A mixin of :class:`hub.session.Session` (one concept per module): pure, no
I/O, time passed in. The deadline's owner is PostgreSQL: the exam API moves
it there (``exam_api/extra_time.py``) and the session follows, telling both
devices and the watchers at once. ``extended_to`` remembers the latest grant,
so that a stale read of the older deadline (the deadline scheduler's) never
takes granted time back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.devices import Camera, Device
from hub.errors import NotAllowed, SessionEnded
from hub.outputs import Outputs, Record, Send

if TYPE_CHECKING:
    from hub.session import EndReason, Rules, Status
    from hub.violations import ViolationLedger

# rule M3: the ends an invigilator may reopen — a fault (the devices gone,
# or ended by an invigilator), never the candidate's submit, the time up or
# the fifth violation
REOPENABLE = frozenset({"abandoned", "invigilator"})


class TimeGrants:
    """Extra time and resume; the fields are the session's (``hub/session.py``)."""

    started_at: float
    deadline_at: float
    extended_to: float | None
    status: Status
    end_reason: EndReason | None
    ended_at: float | None
    devices: dict[str, Device]
    rules: Rules
    ledger: ViolationLedger

    if TYPE_CHECKING:

        @property
        def ended(self) -> bool: ...

        @property
        def violation_count(self) -> int: ...

        def tick(self, now: float) -> Outputs: ...

        def _ended_reason(self) -> str: ...

        def state_message(self, now: float) -> dict[str, Any]: ...

    def extend(self, deadline_at: float, added_s: float, by_user: int, now: float) -> Outputs:
        """Extra time (rule M2): the database moved the deadline to
        ``deadline_at`` (its owner computed it); both devices and the
        watchers hear it at once. No clock first: a grant made after the
        old deadline passed, while the attempt is still open, keeps it open."""
        if self.ended:
            raise SessionEnded(self._ended_reason())
        previous = self.deadline_at
        self.deadline_at = max(deadline_at, self.started_at)
        self.extended_to = self.deadline_at
        minutes = round(added_s / 60, 1)
        out = Outputs(
            records=[
                Record(
                    "extra_time",
                    None,
                    now,
                    {"from": previous, "to": self.deadline_at, "added_s": added_s, "by": by_user},
                )
            ],
            sends=[
                Send(
                    "all",
                    {
                        "type": "extra_time",
                        "added_s": added_s,
                        "deadline_at": self.deadline_at,
                        "server_time": now,
                        "remaining_s": max(0.0, round(self.deadline_at - now, 3)),
                        "message": f"监考员为您延长了考试时间 {minutes:g} 分钟。",
                    },
                ),
                Send("all", self.state_message(now)),
            ],
        )
        out.extend(self.tick(now))
        return out

    def fault_at(self) -> float | None:
        """When the fault began (rule M3): for an abandoned attempt the moment
        its last device left, otherwise its end; None while it runs."""
        if self.ended_at is None:
            return None
        if self._ended_reason() == "abandoned":
            left = [d.outage_since for d in self.devices.values() if d.outage_since is not None]
            if left:
                return min(max(left), self.ended_at)
        return self.ended_at

    def reopen(self, deadline_at: float, by_user: int, now: float) -> Outputs:
        """Resume after a fault (rule M3): an attempt ended by abandonment or
        an invigilator runs again until ``deadline_at`` (now plus the time it
        had left, computed by the caller). Devices not connected start a new
        outage now, so the abandonment clock starts again."""
        from hub.session import Status  # the session module imports this one

        if not self.ended or self._ended_reason() not in REOPENABLE:
            raise NotAllowed(
                "not_reopenable", f"an attempt ended {self._ended_reason()!r} stays ended"
            )
        if self.violation_count >= self.rules.max_violations:
            raise NotAllowed("not_reopenable", "the fifth violation ended this attempt")
        assert deadline_at > now
        previous = self._ended_reason()
        self.status = Status.RUNNING
        self.end_reason = None
        self.ended_at = None
        self.deadline_at = deadline_at
        self.extended_to = deadline_at
        for dev in self.devices.values():
            if not dev.connected:
                dev.outage_since = now
                if dev.camera is Camera.LIVE:
                    dev.camera = Camera.LOST
                    dev.camera_since = now
        return Outputs(
            records=[
                Record(
                    "resumed",
                    None,
                    now,
                    {"previous_end": previous, "deadline_at": deadline_at, "by": by_user},
                )
            ],
            sends=[
                Send("all", {"type": "resumed", "deadline_at": deadline_at, "server_time": now}),
                Send("all", self.state_message(now)),
            ],
        )
