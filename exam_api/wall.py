"""The invigilator wall's tiles: risk and staleness of a running attempt (rule H4).

Pure: a tile is built from the attempt's shared session state (as the hub
keeps it in Redis), the per-device heartbeat times, the database facts
(candidate, paper, latest snapshots with their face flags) and ``now``. No
I/O, no clock. The endpoint (``exam_api/invigilation.py``) reads the inputs
in one Redis pipeline and one SQL query per page and sorts with
:func:`sort_key`.

Face flags are flags for a person to look at, never verdicts (rule H6): they
raise a tile's risk so it is looked at sooner, and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.devices import SCREEN
from hub.session import DEVICES, Camera, Session

# Risk points. A violation outweighs everything but a candidate away right now.
POINTS = {
    "violation": 10,  # each counted violation (rule E3)
    "away": 15,  # the candidate is off the paper at this moment
    "camera_lost": 12,  # a camera stopped sending (rule H2)
    "camera_asleep": 8,  # the phone went to sleep or left its page (rule H2)
    "camera_off": 6,  # a camera never started
    "disconnected": 8,  # a device's socket is gone (rule H1: an outage, not a violation)
    "heartbeat_stale": 4,  # connected, but no heartbeat for a while
    "no_face": 6,  # rule H6: the latest snapshot shows nobody
    "several_faces": 9,  # rule H6: the latest snapshot shows more than one person
    "screen_lost": 12,  # rule J1: the whole-screen share stopped (or never came)
    "someone_else": 14,  # rule I3: several snapshots in a row are not the candidate
    "nobody": 10,  # rule I3: several snapshots in a row show nobody
    "identity_waiting": 16,  # rule I2: the face check failed, an invigilator must decide
}
HEARTBEAT_STALE_S = 15.0  # three missed heartbeats (every 5 s)
HIGH_RISK = 20
MEDIUM_RISK = 8


@dataclass(frozen=True)
class Snapshot:
    """The latest snapshot of one camera (from the ``snapshots`` table)."""

    id: int
    taken_at: float
    faces: int | None  # None unknown, 0 none, 1 one, 2+ several


@dataclass(frozen=True)
class AttemptFacts:
    """What the database knows of a running attempt."""

    attempt_id: int
    candidate_name: str
    username: str
    paper_title: str
    class_id: int
    class_name: str
    started_at: float
    deadline_at: float
    violations: int  # the database copy, used while the hub holds no state
    warnings: int = 0
    latest: dict[str, Snapshot] = field(default_factory=dict)  # by device
    identity_flag: str | None = None  # rule I3: "someone_else" / "nobody" (identity_watch.py)
    identity_state: str | None = None  # rule I2: the face check's state (None: not begun)


def face_flag(faces: int | None) -> str:
    """Rule H6, as a flag: ``none`` / ``one`` / ``several`` / ``unknown``."""
    if faces is None:
        return "unknown"
    if faces == 0:
        return "none"
    return "one" if faces == 1 else "several"


def _age(now: float, at: float | None) -> float | None:
    return None if at is None else round(max(0.0, now - at), 1)


def camera_tile(
    device: str,
    session: Session | None,
    heartbeat_at: float | None,
    snapshot: Snapshot | None,
    now: float,
) -> dict[str, Any]:
    """One camera of a tile. Staleness is the age of the freshest sign of
    life: the device's last heartbeat or its camera's last snapshot."""
    if session is None:
        connected, camera, camera_since, outage_since = False, "unknown", None, None
        last_beat = heartbeat_at
    else:
        dev = session.devices[device]
        connected, camera = dev.connected, session.camera_state(device, now).value  # H9
        camera_since, outage_since = dev.camera_since, dev.outage_since
        # the heartbeat's one owner: the state's hb:<device> field; a device
        # that has not beaten yet shows its connection as its sign of life
        beats = [t for t in (heartbeat_at, dev.connected_at) if t is not None]
        last_beat = max(beats) if beats else None
    signs = [
        t for t in (last_beat, None if snapshot is None else snapshot.taken_at) if t is not None
    ]
    return {
        "device": device,
        "connected": connected,
        "camera": camera,
        "camera_since": camera_since,
        "outage_since": outage_since,
        "last_heartbeat": last_beat,
        "heartbeat_age_s": _age(now, last_beat),
        "staleness_s": _age(now, max(signs)) if signs else None,
        "snapshot": None
        if snapshot is None
        else {
            "id": snapshot.id,
            "taken_at": snapshot.taken_at,
            "age_s": _age(now, snapshot.taken_at),
            "face_flag": face_flag(snapshot.faces),
            "image_url": f"/api/rtc/snapshots/{snapshot.id}/image",
        },
    }


def screen_tile(session: Session | None, snapshot: Snapshot | None, now: float) -> dict[str, Any]:
    """The PC's screen share of a tile (rules J1, J2): its measured state and
    its latest frame, beside the two cameras."""
    state = "unknown" if session is None else session.screen.value
    return {
        "device": SCREEN,
        "state": state,
        "required": session is not None and session.rules.require_screen,
        "since": None if session is None else session.screen_since,
        "snapshot": None
        if snapshot is None
        else {
            "id": snapshot.id,
            "taken_at": snapshot.taken_at,
            "age_s": _age(now, snapshot.taken_at),
            "image_url": f"/api/rtc/snapshots/{snapshot.id}/image",
        },
    }


def risk_of(
    session: Session | None,
    cameras: list[dict[str, Any]],
    violations: int,
    identity_flag: str | None = None,
) -> tuple[int, list[str]]:
    """The tile's risk score and the reasons behind it (codes of ``POINTS``)."""
    reasons: list[str] = ["violation"] * violations
    if identity_flag is not None:
        reasons.append(identity_flag)  # rule I3: a flag for the invigilator, never an end
    if session is not None and session.ledger.current is not None:
        reasons.append("away")
    for cam in cameras:
        if cam["camera"] == Camera.LOST.value:
            reasons.append("camera_lost")
        elif cam["camera"] == Camera.ASLEEP.value:
            reasons.append("camera_asleep")
        elif cam["camera"] in (Camera.OFF.value, "unknown"):
            reasons.append("camera_off")
        if session is not None and session.devices[cam["device"]].outage_since is not None:
            reasons.append("disconnected")
        elif cam["connected"] and (cam["heartbeat_age_s"] or 0) > HEARTBEAT_STALE_S:
            reasons.append("heartbeat_stale")
        snap = cam["snapshot"]
        if snap is not None and snap["face_flag"] == "none":
            reasons.append("no_face")
        elif snap is not None and snap["face_flag"] == "several":
            reasons.append("several_faces")
    return sum(POINTS[r] for r in reasons), sorted(set(reasons), key=lambda r: -POINTS[r])


def level_of(risk: int) -> str:
    if risk >= HIGH_RISK:
        return "high"
    return "medium" if risk >= MEDIUM_RISK else "low"


def build_tile(
    facts: AttemptFacts,
    session: Session | None,
    heartbeats: dict[str, float | None],
    now: float,
) -> dict[str, Any]:
    """One tile of the wall. ``session`` is None when no hub process has
    loaded the attempt yet (no device ever connected)."""
    cameras = [
        camera_tile(d, session, heartbeats.get(d), facts.latest.get(d), now) for d in DEVICES
    ]
    if session is None:
        violations, max_violations = facts.violations, 5
        status, deadline, away = "waiting", facts.deadline_at, False
        ledger: list[dict[str, Any]] = []
    else:
        violations, max_violations = session.violation_count, session.rules.max_violations
        status = "ended" if session.ended else "running"
        deadline, away = session.deadline_at, session.ledger.current is not None
        ledger = [
            {
                "index": v.index,
                "kind": v.kind,
                "started_at": v.started_at,
                "duration_s": round(v.duration_s(now), 1),
                "forgiven": v.forgiven,
            }
            for v in session.ledger.violations
        ]
    risk, reasons = risk_of(session, cameras, violations, facts.identity_flag)
    screen = screen_tile(session, facts.latest.get(SCREEN), now)
    if screen["required"] and screen["state"] != Camera.LIVE.value and status == "running":
        risk += POINTS["screen_lost"]
        reasons = sorted({*reasons, "screen_lost"}, key=lambda r: -POINTS[r])
    if facts.identity_state == "waiting":  # rule I2: a person is waiting for a decision
        risk, reasons = risk + POINTS["identity_waiting"], ["identity_waiting", *reasons]
    stalest = [c["staleness_s"] for c in cameras]
    return {
        "attempt_id": facts.attempt_id,
        "candidate": {"name": facts.candidate_name, "username": facts.username},
        "paper_title": facts.paper_title,
        "class_id": facts.class_id,
        "class_name": facts.class_name,
        "status": status,
        "away": away,
        "violations": violations,
        "max_violations": max_violations,
        "ledger": ledger,
        "warnings": facts.warnings,
        # rule H4: warnings the candidate has not yet acknowledged (我知道了)
        "warnings_open": 0 if session is None else len(session.warnings_open),
        "started_at": facts.started_at,
        "deadline_at": deadline,
        "remaining_s": round(max(0.0, deadline - now), 1),
        "cameras": {c["device"]: c for c in cameras},
        "screen": screen,
        "risk": risk,
        "risk_level": level_of(risk),
        "risk_reasons": reasons,
        "identity_flag": facts.identity_flag,
        "identity_state": facts.identity_state,
        # A camera never heard from is the stalest of all.
        "staleness_s": None if None in stalest else max(s for s in stalest if s is not None),
    }


def sort_key(tile: dict[str, Any]) -> tuple[int, float, float, float, int]:
    """A raised hand first, then an unanswered message, the longest waiting
    first (rule L1: until an invigilator answers); then the riskiest; among
    equals the stalest camera first; then the oldest attempt."""
    stale = tile["staleness_s"]
    waiting = tile.get("contact")
    rank = 2 if waiting is None else (0 if waiting["hand_raised"] else 1)
    since = 0.0 if waiting is None else float(waiting["since"])
    return (
        rank,
        since,
        -tile["risk"],
        -(float("inf") if stale is None else stale),
        tile["attempt_id"],
    )
