"""An invigilator's warnings and the candidate's acknowledgement (rule H4).

A mixin of :class:`hub.session.Session` (one concept per module): pure, no
I/O, time passed in. Each warning gets an id (1, 2, … per attempt) and stays
open until the candidate acknowledges it on the PC (``warning_ack``): the
page keeps it on screen until then, and a PC that (re)connects is sent every
open warning again, so a reload never loses one. The acknowledgement is a
durable record (on the timeline, before the ack); only a warning that was
sent to this attempt can be acknowledged, and only once — anything else is
refused with a code and nothing is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.errors import NotAllowed
from hub.outputs import Outputs, Record, Send

# Open warnings are few (an invigilator types each); the limit keeps the
# shared state small even if a script hammers the command.
MAX_OPEN_WARNINGS = 20


class WarningRules:
    """Warnings and their acknowledgement; the fields are the session's."""

    warning_seq: int
    warnings_open: dict[int, tuple[float, str]]  # id -> (sent at, text)

    if TYPE_CHECKING:

        def _begin(self, now: float) -> Outputs | None: ...

    def warn(self, by_user: int, text: str, now: float) -> Outputs:
        """An invigilator warns the candidate (rule H4): shown on both devices,
        kept open until the PC acknowledges it."""
        ended = self._begin(now)
        if ended is not None:
            return ended
        if len(self.warnings_open) >= MAX_OPEN_WARNINGS:
            raise NotAllowed(
                "too_many_warnings",
                f"{MAX_OPEN_WARNINGS} warnings are waiting for the candidate's acknowledgement",
            )
        self.warning_seq += 1
        wid = self.warning_seq
        self.warnings_open[wid] = (now, text)
        return Outputs(
            sends=[Send("devices", self._warning_message(wid))],
            records=[Record("warning", None, now, {"id": wid, "by": by_user, "text": text})],
        )

    def acknowledge_warning(self, warning_id: int, now: float) -> Outputs:
        """The candidate pressed 我知道了 on the PC. Raises ``NotAllowed``
        ``unknown_warning`` for an id never sent to this attempt and
        ``warning_acknowledged`` for one acknowledged before."""
        ended = self._begin(now)
        if ended is not None:
            return ended
        if not 1 <= warning_id <= self.warning_seq:
            raise NotAllowed("unknown_warning", f"no warning {warning_id} was sent to this attempt")
        if warning_id not in self.warnings_open:
            raise NotAllowed(
                "warning_acknowledged", f"warning {warning_id} was acknowledged already"
            )
        sent_at, _ = self.warnings_open.pop(warning_id)
        data = {"id": warning_id, "sent_at": sent_at, "after_s": round(max(0.0, now - sent_at), 3)}
        return Outputs(
            records=[Record("warning_ack", "pc", now, data, durable=True)],
            sends=[Send("watchers", {"type": "warning_ack", "id": warning_id, "at": now})],
        )

    def open_warnings(self) -> list[Send]:
        """Every warning not yet acknowledged, for a PC that (re)connects."""
        return [Send("pc", self._warning_message(wid)) for wid in sorted(self.warnings_open)]

    def _warning_message(self, wid: int) -> dict[str, Any]:
        at, text = self.warnings_open[wid]
        return {
            "type": "warning",
            "code": "invigilator",
            "id": wid,
            "at": at,
            "ack_required": True,
            "message": text,
        }
