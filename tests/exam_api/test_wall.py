"""The wall's tiles as pure values: risk, staleness, sort order (rule H4), face
flags as flags (rule H6)."""

from __future__ import annotations

from exam_api.wall import (
    POINTS,
    AttemptFacts,
    Snapshot,
    build_tile,
    face_flag,
    sort_key,
)
from hub.session import Camera, Session

T0 = 1_800_000_000.0


def _facts(attempt_id: int, **latest: Snapshot) -> AttemptFacts:
    return AttemptFacts(
        attempt_id=attempt_id,
        candidate_name="张三",
        username=f"u{attempt_id}",
        paper_title="正式考试",
        class_id=1,
        class_name="考场一",
        started_at=T0,
        deadline_at=T0 + 3600,
        violations=0,
        latest=dict(latest),
    )


def _live_session(attempt_id: int, at: float) -> Session:
    """Both devices connected at ``at``, both cameras live."""
    s = Session(attempt_id=attempt_id, started_at=T0, deadline_at=T0 + 3600)
    for device in ("pc", "phone"):
        s.connect(device, at)
        s.camera_measured(device, Camera.LIVE, at)
    return s


def test_a_calm_session_has_no_risk() -> None:
    s = _live_session(1, T0 + 10)
    tile = build_tile(_facts(1), s, {"pc": T0 + 18, "phone": T0 + 19}, T0 + 20)
    assert (tile["risk"], tile["risk_level"], tile["risk_reasons"]) == (0, "low", [])
    assert tile["cameras"]["pc"]["staleness_s"] == 2.0
    assert tile["cameras"]["phone"]["heartbeat_age_s"] == 1.0
    assert tile["staleness_s"] == 2.0  # the stalest camera
    assert tile["status"] == "running" and tile["violations"] == 0


def test_violations_and_an_open_switch_raise_the_risk() -> None:
    # rules E3, H4
    s = _live_session(1, T0)
    s.focus_lost("visibility", T0 + 5)
    s.focus_back(T0 + 8)
    s.focus_lost("blur", T0 + 20)  # away right now
    tile = build_tile(_facts(1), s, {"pc": T0 + 20, "phone": T0 + 20}, T0 + 21)
    assert tile["violations"] == 2
    assert tile["away"] is True
    assert tile["risk"] == 2 * POINTS["violation"] + POINTS["away"]
    assert tile["risk_reasons"][0] == "away"
    assert [v["duration_s"] for v in tile["ledger"]] == [3.0, 1.0]


def test_lost_and_asleep_cameras_and_outages() -> None:
    # rules H1, H2: a lost camera and a dropped socket are risks, not violations
    s = _live_session(1, T0)
    s.camera_measured("pc", Camera.LOST, T0 + 5)
    s.disconnect("phone", T0 + 6)  # the phone camera becomes lost with its socket
    tile = build_tile(_facts(1), s, {}, T0 + 7)
    assert tile["violations"] == 0
    assert tile["cameras"]["pc"]["camera"] == "lost"
    assert tile["cameras"]["phone"]["connected"] is False
    assert set(tile["risk_reasons"]) == {"camera_lost", "disconnected"}
    assert tile["risk"] == 2 * POINTS["camera_lost"] + POINTS["disconnected"]
    asleep = _live_session(2, T0)
    asleep.camera_hint("phone", Camera.ASLEEP, T0 + 5)
    assert build_tile(_facts(2), asleep, {}, T0 + 7)["risk_reasons"] == ["camera_asleep"]


def test_face_flags_raise_risk_but_stay_flags() -> None:
    # rule H6: flags for a person to look at
    assert [face_flag(n) for n in (None, 0, 1, 2, 5)] == [
        "unknown",
        "none",
        "one",
        "several",
        "several",
    ]
    s = _live_session(1, T0)
    facts = _facts(1, pc=Snapshot(7, T0 + 3, 0), phone=Snapshot(8, T0 + 3, 2))
    tile = build_tile(facts, s, {}, T0 + 4)
    assert tile["risk_reasons"] == ["several_faces", "no_face"]
    pc = tile["cameras"]["pc"]["snapshot"]
    assert (pc["id"], pc["face_flag"], pc["image_url"]) == (7, "none", "/api/rtc/snapshots/7/image")


def test_a_session_no_device_joined_is_waiting_and_stalest() -> None:
    tile = build_tile(_facts(3), None, {}, T0 + 60)
    assert tile["status"] == "waiting"
    assert tile["cameras"]["pc"]["camera"] == "unknown"
    assert tile["staleness_s"] is None
    assert tile["risk_reasons"] == ["camera_off"]


def test_a_stale_heartbeat_counts_while_connected() -> None:
    s = _live_session(1, T0)
    tile = build_tile(_facts(1), s, {"pc": T0, "phone": T0 + 100}, T0 + 100)
    assert tile["risk_reasons"] == ["heartbeat_stale"]


def test_sort_by_risk_then_staleness_then_age() -> None:
    # rule H4: riskiest first; equal risk: the stalest camera first
    now = T0 + 100
    risky = _live_session(1, T0)
    risky.click_outside(T0 + 50)
    (request,) = risky.captures  # the phone answered the violation's capture (H10)
    risky.photo(request, 1000, T0 + 51)
    fresh = _live_session(2, T0)
    stale = _live_session(3, T0)
    tiles = [
        build_tile(_facts(2), fresh, {"pc": now - 1, "phone": now - 1}, now),
        build_tile(_facts(3), stale, {"pc": now - 9, "phone": now - 1}, now),
        build_tile(_facts(1), risky, {"pc": now - 1, "phone": now - 1}, now),
        build_tile(_facts(4), None, {}, now),
    ]
    tiles.sort(key=sort_key)
    assert [t["attempt_id"] for t in tiles] == [4, 1, 3, 2]


def _waiting(since: float, calls: int) -> dict[str, object]:
    return {
        "since": since,
        "hand_raised": calls > 0,
        "calls": calls,
        "messages": max(calls, 1),
        "last_text": "x",
    }


def test_a_raised_hand_sorts_first_then_a_waiting_message_then_risk() -> None:
    # rule L1: the hand stays on top until answered, the longest waiting first
    now = T0 + 100
    risky = _live_session(1, T0)
    risky.click_outside(T0 + 50)
    tiles = [
        build_tile(_facts(i), s, {}, now)
        for i, s in enumerate(
            [risky, _live_session(2, T0), _live_session(3, T0), _live_session(4, T0), None],
            start=1,
        )
    ]
    contact = {2: _waiting(T0 + 30, 0), 3: _waiting(T0 + 40, 1), 4: _waiting(T0 + 20, 2)}
    for tile in tiles:
        tile["contact"] = contact.get(tile["attempt_id"])
    tiles.sort(key=sort_key)
    assert [t["attempt_id"] for t in tiles] == [4, 3, 2, 1, 5]  # then the riskier of 1 and 5
