"""The exam session of one attempt as a pure state machine.

It holds what the hub knows of an attempt: which devices are connected and
their last heartbeat, the state of both cameras, the violation ledger, the
server-owned deadline and the end. Each event method takes ``now`` (server
time, seconds since the epoch) and returns :class:`Outputs`: messages to send
(to a device, both devices, or the watching invigilators) and records to
write (durable ones, which must reach PostgreSQL before the client's event is
acknowledged, and telemetry). No I/O, no clock, no randomness.

An event that the state does not allow raises a :class:`hub.errors.SessionError`;
after the end every event raises :class:`hub.errors.SessionEnded`.

Value types live beside it: :mod:`hub.outputs` (what a step produces) and
:mod:`hub.devices` (a device's presence and camera); they are re-exported here.

The whole state round-trips through :meth:`Session.to_dict` /
:meth:`Session.from_dict` so that several hub processes can share it in Redis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hub.captures import CaptureId
from hub.devices import SCREEN, Camera, Device
from hub.errors import NotAllowed, SessionEnded
from hub.invigilator_warnings import WarningRules
from hub.outputs import Audience, Outputs, Record, Send
from hub.phone import PhoneRules
from hub.screen_rules import ScreenRules
from hub.time_grants import TimeGrants
from hub.violations import DEFAULT_DEBOUNCE_S, Violation, ViolationLedger

__all__ = [
    "Audience",
    "Camera",
    "Device",
    "EndReason",
    "Outputs",
    "Record",
    "Rules",
    "Send",
    "Session",
    "Status",
]

DEVICES = ("pc", "phone")


class Status(StrEnum):
    RUNNING = "running"
    ENDED = "ended"


class EndReason(StrEnum):
    SUBMITTED = "submitted"
    TIME_UP = "time_up"
    FIFTH_VIOLATION = "fifth_violation"
    INVIGILATOR = "invigilator"
    ABANDONED = "abandoned"


# Candidate-facing texts (zh-CN).
END_MESSAGES = {
    EndReason.SUBMITTED: "考试已交卷。",
    EndReason.TIME_UP: "考试时间已到，系统已自动交卷。",
    EndReason.FIFTH_VIOLATION: "违规次数已达 5 次，系统已自动交卷。",
    EndReason.INVIGILATOR: "监考员已结束本次考试。",
    EndReason.ABANDONED: "考试设备长时间离线，考试已结束。",
}


@dataclass(frozen=True)
class Rules:
    """Tunable numbers of the exam rules."""

    max_violations: int = 5  # rule E3
    debounce_s: float = DEFAULT_DEBOUNCE_S  # rule H3
    outage_grace_s: float = 120.0  # rule H1: an outage longer than this is flagged
    abandon_after_s: float = 1800.0  # both devices gone this long: the attempt is abandoned
    # rule H9: the phone camera is live while its photos answer capture
    # requests within this many seconds (a request left longer: camera lost)
    capture_answer_s: float = 30.0
    # rule J1: the PC's whole-screen share must be live (as measured) to
    # answer, like a camera; the wiring turns it on (PROCTOR_REQUIRE_SCREEN)
    require_screen: bool = False


def violation_view(v: Violation, now: float) -> dict[str, Any]:
    return {
        "index": v.index,
        "kind": v.kind,
        "causes": list(v.causes),
        "started_at": v.started_at,
        "ended_at": v.ended_at,
        "duration_s": round(v.duration_s(now), 3),
        "forgiven": v.forgiven,
    }


@dataclass
class Session(PhoneRules, TimeGrants, ScreenRules, WarningRules):
    attempt_id: int
    started_at: float
    deadline_at: float
    rules: Rules = field(default_factory=Rules)
    status: Status = Status.RUNNING
    end_reason: EndReason | None = None
    ended_at: float | None = None
    devices: dict[str, Device] = field(default_factory=lambda: {d: Device() for d in DEVICES})
    ledger: ViolationLedger = field(default_factory=ViolationLedger)
    phone_started_at: float | None = None  # rule D4: the candidate placed it and tapped start
    phone_finished_at: float | None = None  # rule D5
    capture_seq: int = 0  # ids of capture requests sent to the phone
    captures: dict[int, str] = field(default_factory=dict)  # open requests: id -> label
    capture_at: dict[int, float] = field(default_factory=dict)  # open requests: id -> issued
    # rule M2: the latest deadline an invigilator granted; a stale read of an
    # older deadline (the scheduler's) never takes the time back
    extended_to: float | None = None
    screen: Camera = Camera.OFF  # rule J1: the PC's screen share, as the ingest measures it
    screen_since: float | None = None
    warning_seq: int = 0  # rule H4: ids of the invigilators' warnings
    warnings_open: dict[int, tuple[float, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.deadline_at >= self.started_at
        if not self.ledger.violations:
            self.ledger.debounce_s = self.rules.debounce_s

    # ----- queries -------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self.status is Status.ENDED

    @property
    def violation_count(self) -> int:
        return self.ledger.count

    def camera_state(self, device: str, now: float) -> Camera:
        """The camera as measured (rule H9): the PC's from the received video
        (the ingest), the phone's from its photos — live only while no
        capture request has waited longer than ``capture_answer_s``."""
        camera = self.devices[device].camera
        if device == "phone" and camera is Camera.LIVE and self._capture_overdue(now):
            return Camera.LOST
        return camera

    def _capture_overdue(self, now: float) -> bool:
        limit = self.rules.capture_answer_s
        return any(now - at > limit for at in self.capture_at.values())

    def cameras_live_without_screen(self, now: float) -> bool:
        """Both cameras live as measured, whatever the screen share's state."""
        return all(self.camera_state(d, now) is Camera.LIVE for d in DEVICES)

    def can_answer(self, now: float) -> bool:
        """Rule D1 and E4: answering is allowed only while the attempt runs,
        before the deadline, with both cameras live."""
        return not self.ended and now < self.deadline_at and self.cameras_live(now)

    def check_answer(self, now: float) -> None:
        """Raise unless an answer may be saved now (rule D1)."""
        if self.ended:
            raise SessionEnded(self._ended_reason())
        if now >= self.deadline_at:
            raise SessionEnded(EndReason.TIME_UP.value)
        if not self.cameras_live(now):
            raise NotAllowed(
                "cameras_not_live", "both cameras (and the screen share) must be live (D1, J1)"
            )

    def state_message(self, now: float) -> dict[str, Any]:
        """The full state as the devices and invigilators see it."""
        return {
            "type": "state",
            "attempt_id": self.attempt_id,
            "status": self.status.value,
            "end_reason": None if self.end_reason is None else self.end_reason.value,
            "server_time": now,
            "deadline_at": self.deadline_at,
            "remaining_s": max(0.0, round(self.deadline_at - now, 3)),
            "violations": self.violation_count,
            "max_violations": self.rules.max_violations,
            "away": self.ledger.current is not None,
            "can_answer": self.can_answer(now),
            "phone_finished": self.phone_finished_at is not None,
            "screen": {"state": self.screen.value, "required": self.rules.require_screen},
            "devices": {
                name: {
                    "connected": dev.connected,
                    "connected_at": dev.connected_at,
                    "camera": self.camera_state(name, now).value,
                    "outage_since": dev.outage_since,
                    "outages": dev.outages,
                }
                for name, dev in self.devices.items()
            },
        }

    # ----- time ------------------------------------------------------------

    def tick(self, now: float) -> Outputs:
        """Apply the clock: rule E4 (time up, by the server clock) and
        abandonment (both devices gone for ``abandon_after_s``)."""
        out = Outputs()
        if self.ended:
            return out
        if now >= self.deadline_at:
            out.extend(self._end(EndReason.TIME_UP, now, at=self.deadline_at))
            return out
        # Abandoned: no device connected, and the last one left long ago (a
        # device that never connected does not hold the attempt open).
        gone_since = [self.devices[d].outage_since for d in DEVICES]
        left = [s for s in gone_since if s is not None]
        if left and not any(self.devices[d].connected for d in DEVICES):
            if now - max(left) >= self.rules.abandon_after_s:
                out.extend(self._end(EndReason.ABANDONED, now))
        return out

    def set_deadline(self, deadline_at: float, now: float) -> Outputs:
        """The deadline changed in the database (its owner): follow it, then
        apply the clock (rule E4)."""
        if self.extended_to is not None:
            deadline_at = max(deadline_at, self.extended_to)
        if self.ended or deadline_at == self.deadline_at:
            return self.tick(now)
        out = Outputs(
            records=[Record("deadline", None, now, {"from": self.deadline_at, "to": deadline_at})]
        )
        self.deadline_at = max(deadline_at, self.started_at)
        out.sends.append(Send("all", self.state_message(now)))
        out.extend(self.tick(now))
        return out

    def _begin(self, now: float) -> Outputs | None:
        """Every event first applies the clock. Returns the outputs of an end
        that the clock caused just now (the event itself is then void: not
        stored, not acknowledged); raises ``SessionEnded`` if the attempt had
        ended before."""
        if self.ended:
            raise SessionEnded(self._ended_reason())
        out = self.tick(now)
        if self.ended:
            out.void = True
            return out
        return None

    def _ended_reason(self) -> str:
        return "" if self.end_reason is None else self.end_reason.value

    # ----- devices (rules H1, H2) -------------------------------------------

    def connect(self, device: str, now: float, conn: str | None = None) -> Outputs:
        """A device's websocket said hello (first time or resuming). ``conn``
        names the connection; a later one replaces it."""
        self._check_device(device)
        ended = self._begin(now)
        if ended is not None:
            return ended
        out = Outputs()
        dev = self.devices[device]
        if dev.outage_since is not None:
            # rule H1: the outage ends; it is recorded, never a violation.
            duration = max(0.0, now - dev.outage_since)
            out.records.append(
                Record(
                    "outage_end",
                    device,
                    now,
                    {
                        "since": dev.outage_since,
                        "duration_s": round(duration, 3),
                        "over_grace": duration > self.rules.outage_grace_s,
                    },
                )
            )
            dev.outage_since = None
        dev.connected = True
        dev.conn = conn
        dev.connected_at = now
        out.records.append(Record("connect", device, now, {}))
        out.sends.append(Send("all", self.state_message(now)))
        if device == "phone":
            # requests sent while the phone was away are asked again: no
            # snapshot is lost to an outage (rule H10), and the answer makes
            # the camera live again (rule H9)
            out.sends.extend(self._capture_message(i, now) for i in sorted(self.captures))
        else:
            out.sends.extend(self.open_warnings())  # rule H4: on screen until acknowledged
        return out

    def disconnect(self, device: str, now: float, conn: str | None = None) -> Outputs:
        """A device's websocket went away: an outage with a grace window (rule H1).
        A connection that was replaced by a newer one changes nothing."""
        self._check_device(device)
        out = Outputs()
        dev = self.devices[device]
        if not dev.connected or (conn is not None and dev.conn != conn):
            return out
        if self.ended:
            dev.connected = False
            dev.conn = None
            return out
        dev.conn = None
        dev.connected = False
        dev.outage_since = now
        dev.outages += 1
        if device == "phone" and dev.camera is Camera.LIVE:
            # rule H2: without its socket the phone camera cannot be vouched for.
            dev.camera = Camera.LOST
            dev.camera_since = now
        out.records.append(
            Record("outage_start", device, now, {"grace_s": self.rules.outage_grace_s})
        )
        out.sends.append(Send("all", self.state_message(now)))
        return out

    def heartbeat(self, device: str, now: float) -> Outputs:
        self._check_device(device)
        ended = self._begin(now)
        if ended is not None:
            return ended
        dev = self.devices[device]
        if not dev.connected:
            raise NotAllowed("not_connected", f"{device} sent a heartbeat without hello")
        # the last heartbeat's one owner is the state's hb:<device> field
        # (hub/state_schema.py), written by the fast path; this is the record
        return Outputs(records=[Record("heartbeat", device, now, {})])

    def camera_hint(self, device: str, state: Camera, now: float) -> Outputs:
        """A device *says* its camera changed (rule H9: at most a hint).

        The client's word may lower a camera (rule H2: the phone went to
        sleep or lost its camera; that only costs the candidate), never raise
        one: the PC camera is live when the ingest measures frames
        (:meth:`camera_measured`), the phone's when its photo answers a
        capture request — so a phone that says "live" is asked for one."""
        self._check_device(device)
        if state is Camera.ASLEEP and device != "phone":
            raise NotAllowed("bad_camera_state", "only the phone camera can be asleep")
        ended = self._begin(now)
        if ended is not None:
            return ended
        out = Outputs(records=[Record("camera_hint", device, now, {"state": state.value})])
        if device == "pc":
            return out  # the ingest measures the PC camera
        if state is Camera.LIVE:
            # any open request proves the camera once answered; else ask for one
            started = self.phone_started_at is not None
            if started and self.camera_state("phone", now) is not Camera.LIVE and not self.captures:
                out.sends.append(self._capture("camera_check", now))
            return out
        out.extend(self._set_camera(device, state, now, "client"))
        return out

    def camera_measured(self, device: str, state: Camera, now: float) -> Outputs:
        """What the server measured of a camera (the ingest: frames arriving
        or not, rules D1, H2, H9), or of the PC's screen share (``device``
        ``"screen"``, rule J1)."""
        if device != SCREEN:
            self._check_device(device)
        ended = self._begin(now)
        if ended is not None:
            return ended
        if device == SCREEN:
            return self._set_screen(state, now)
        return self._set_camera(device, state, now, "measured")

    def _set_camera(self, device: str, state: Camera, now: float, source: str) -> Outputs:
        dev = self.devices[device]
        if dev.camera is state:
            return Outputs()
        previous = dev.camera
        dev.camera = state
        dev.camera_since = now
        return Outputs(
            records=[
                Record(
                    "camera",
                    device,
                    now,
                    {"state": state.value, "previous": previous.value, "source": source},
                )
            ],
            sends=[Send("all", self.state_message(now))],
        )

    # ----- focus and violations (rules E3, H3) --------------------------------

    def focus_lost(self, cause: str, now: float) -> Outputs:
        ended = self._begin(now)
        if ended is not None:
            return ended
        opened = self.ledger.away(cause, now)
        out = Outputs(records=[Record("focus", "pc", now, {"state": "lost", "cause": cause})])
        if opened is not None:
            out.extend(self._counted(opened, now))
        return out

    def focus_back(self, now: float) -> Outputs:
        ended = self._begin(now)
        if ended is not None:
            return ended
        out = Outputs(records=[Record("focus", "pc", now, {"state": "back"})])
        closed = self.ledger.back(now)
        if closed is not None:
            # The duration is known now: the violation again, as telemetry (it
            # was durable when it was counted; the persistence worker upserts
            # the duration, and the end writes every violation durably).
            out.records.append(self._violation_record(closed, now, durable=False))
            out.sends.append(Send("watchers", self.state_message(now)))
        return out

    def click_outside(self, now: float) -> Outputs:
        ended = self._begin(now)
        if ended is not None:
            return ended
        counted = self.ledger.click_outside(now)
        out = Outputs(records=[Record("focus", "pc", now, {"state": "click_outside"})])
        if counted is not None:
            out.extend(self._counted(counted, now))
        return out

    def _violation_record(self, v: Violation, now: float, durable: bool = True) -> Record:
        return Record("violation", "pc", v.started_at, violation_view(v, now), durable=durable)

    def _counted(self, v: Violation, now: float) -> Outputs:
        """A new violation: tell the candidate "n of 5" (rule E3); the fifth ends."""
        count = self.violation_count
        limit = self.rules.max_violations
        out = Outputs(records=[self._violation_record(v, now)])
        out.sends.append(
            Send(
                "all",
                {
                    "type": "violation",
                    "index": v.index,
                    "kind": v.kind,
                    "count": count,
                    "max": limit,
                    "at": v.started_at,
                    "message": f"检测到切屏或离开试卷区域，违规 {count}/{limit} 次。"
                    + ("" if count >= limit else f"满 {limit} 次将自动交卷。"),
                },
            )
        )
        # rule H10: the violation's dual snapshot is ordered by the same
        # commit that counts it (the fifth's too, before the end below): the
        # phone's photo and, from the process holding the PC peer, the frame.
        capture = str(CaptureId.new(self.attempt_id, "violation", v.started_at, v.index))
        out.sends.append(self._capture(capture, now))
        out.sends.append(Send("rtc", {"type": "rtc.snapshot", "capture_id": capture}))
        out.sends.append(Send("all", self.state_message(now)))
        if count >= limit:
            out.extend(self._end(EndReason.FIFTH_VIOLATION, now))
        return out

    def forgive(self, index: int, by_user: int, now: float) -> Outputs:
        """An invigilator forgives one violation (rule H3), audited."""
        ended = self._begin(now)
        if ended is not None:
            return ended
        v = self.ledger.forgive(index, by_user)
        out = Outputs(records=[self._violation_record(v, now)])
        out.records.append(
            Record("forgiven", None, now, {"index": index, "by": by_user}, durable=True)
        )
        out.sends.append(Send("all", self.state_message(now)))
        return out

    # ----- ends (rules E3, E4) and invigilators --------------------------------

    def submit(self, now: float) -> Outputs:
        """The candidate submits (rule E4)."""
        ended = self._begin(now)
        if ended is not None:
            return ended
        return self._end(EndReason.SUBMITTED, now)

    def invigilator_end(self, by_user: int, note: str, now: float) -> Outputs:
        ended = self._begin(now)
        if ended is not None:
            return ended
        return self._end(EndReason.INVIGILATOR, now, extra={"by": by_user, "note": note})

    def _end(
        self,
        reason: EndReason,
        now: float,
        at: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Outputs:
        if self.ended:
            raise SessionEnded(self._ended_reason())
        at = now if at is None else at
        closed = self.ledger.close_open(at)
        self.status = Status.ENDED
        self.end_reason = reason
        self.ended_at = at
        out = Outputs()
        if closed is not None:
            out.records.append(self._violation_record(closed, at))
        data: dict[str, Any] = {"reason": reason.value, "violations": self.violation_count}
        data.update(extra or {})
        out.records.append(Record("ended", None, at, data, durable=True))
        out.sends.append(
            Send(
                "all",
                {
                    "type": "ended",
                    "reason": reason.value,
                    "at": at,
                    "violations": self.violation_count,
                    "message": END_MESSAGES[reason],
                },
            )
        )
        out.sends.append(Send("watchers", self.state_message(now)))
        return out

    def _check_device(self, device: str) -> None:
        if device not in DEVICES:
            raise NotAllowed("bad_device", f"unknown device {device!r}")

    # ----- sharing -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.attempt_id,
            "st": self.started_at,
            "dl": self.deadline_at,
            "r": [
                self.rules.max_violations,
                self.rules.debounce_s,
                self.rules.outage_grace_s,
                self.rules.abandon_after_s,
                self.rules.capture_answer_s,
                self.rules.require_screen,
            ],
            "s": self.status.value,
            "er": None if self.end_reason is None else self.end_reason.value,
            "ea": self.ended_at,
            "d": {name: dev.to_dict() for name, dev in self.devices.items()},
            "l": self.ledger.to_dict(),
            "ps": self.phone_started_at,
            "pf": self.phone_finished_at,
            "cs": self.capture_seq,
            "cp": {str(k): v for k, v in self.captures.items()},
            "ct": {str(k): v for k, v in self.capture_at.items()},
            "xt": self.extended_to,
            "sc": [self.screen.value, self.screen_since],
            "ws": self.warning_seq,
            "wo": {str(k): list(v) for k, v in self.warnings_open.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        max_v, debounce, grace, abandon, *more = data["r"]
        answer_s = float(more[0]) if more else Rules.capture_answer_s
        require_screen = bool(more[1]) if len(more) > 1 else Rules.require_screen
        screen, screen_since = data.get("sc", [Camera.OFF.value, None])
        return cls(
            attempt_id=int(data["a"]),
            started_at=float(data["st"]),
            deadline_at=float(data["dl"]),
            rules=Rules(
                int(max_v), float(debounce), float(grace), float(abandon), answer_s, require_screen
            ),
            status=Status(data["s"]),
            end_reason=None if data["er"] is None else EndReason(data["er"]),
            ended_at=data["ea"],
            devices={name: Device.from_dict(d) for name, d in data["d"].items()},
            ledger=ViolationLedger.from_dict(data["l"]),
            phone_started_at=data.get("ps"),
            phone_finished_at=data["pf"],
            capture_seq=int(data["cs"]),
            captures={int(k): str(v) for k, v in data.get("cp", {}).items()},
            capture_at={int(k): float(v) for k, v in data.get("ct", {}).items()},
            extended_to=data.get("xt"),
            screen=Camera(screen),
            screen_since=screen_since,
            warning_seq=int(data.get("ws", 0)),
            warnings_open={
                int(k): (float(at), str(text)) for k, (at, text) in data.get("wo", {}).items()
            },
        )
