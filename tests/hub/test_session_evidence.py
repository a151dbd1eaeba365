"""The session's rules H9 (cameras measured, not claimed) and H10 (evidence
never lost), pure: events and ``now`` in, outputs out."""

from __future__ import annotations

import pytest

from hub.captures import CaptureId
from hub.errors import SessionEnded
from hub.session import Camera, Outputs, Rules, Session

T0 = 1_000_000.0


def connected() -> Session:
    session = Session(attempt_id=42, started_at=T0, deadline_at=T0 + 3600, rules=Rules())
    session.connect("pc", T0 + 1)
    session.connect("phone", T0 + 2)
    return session


def captures(out: Outputs) -> list[dict[str, object]]:
    return [s.message for s in out.sends if s.to == "phone" and s.message["type"] == "capture"]


def rtc(out: Outputs) -> list[dict[str, object]]:
    return [s.message for s in out.sends if s.to == "rtc"]


def prove_phone(session: Session, at: float) -> None:
    """Rule D4: the phone starts; its start photo makes the camera live."""
    (request,) = captures(session.phone_start(at))
    session.photo(int(request["request_id"]), 1000, at + 1)  # type: ignore[call-overload]


# ----- rule H9 ------------------------------------------------------------------


def test_a_client_saying_its_pc_camera_is_live_changes_nothing() -> None:
    session = connected()
    out = session.camera_hint("pc", Camera.LIVE, T0 + 3)
    assert [r.kind for r in out.records] == ["camera_hint"]  # recorded as a hint
    assert session.camera_state("pc", T0 + 3) is Camera.OFF
    assert not session.can_answer(T0 + 3)


def test_a_photo_before_the_phone_started_does_not_make_it_live() -> None:
    # rule D4: live only once the candidate placed the phone and tapped start
    session = connected()
    assert captures(session.camera_hint("phone", Camera.LIVE, T0 + 3)) == []  # not started
    (request,) = captures(session.capture_request("42.start.1000003000", T0 + 3))
    session.photo(int(request["request_id"]), 1000, T0 + 4)  # type: ignore[call-overload]
    assert session.camera_state("phone", T0 + 4) is Camera.OFF


def test_the_start_photo_makes_the_phone_camera_live() -> None:
    session = connected()
    (request,) = captures(session.phone_start(T0 + 3))
    assert request["reason"] == "start"
    assert session.camera_state("phone", T0 + 3) is Camera.OFF  # not until the photo
    session.photo(int(request["request_id"]), 1000, T0 + 4)  # type: ignore[call-overload]
    assert session.camera_state("phone", T0 + 4) is Camera.LIVE
    session.camera_measured("pc", Camera.LIVE, T0 + 5)  # the ingest measured frames
    assert session.can_answer(T0 + 5)


def test_a_live_hint_after_a_reconnect_asks_for_a_photo() -> None:
    session = connected()
    prove_phone(session, T0 + 3)
    session.disconnect("phone", T0 + 10)  # rule H2: without its socket, lost
    session.connect("phone", T0 + 12)
    (request,) = captures(session.camera_hint("phone", Camera.LIVE, T0 + 13))
    assert request["reason"] == "camera_check"
    assert session.camera_state("phone", T0 + 13) is Camera.LOST
    session.photo(int(request["request_id"]), 1000, T0 + 14)  # type: ignore[call-overload]
    assert session.camera_state("phone", T0 + 14) is Camera.LIVE


def test_the_phone_may_lower_its_camera_on_its_own_word() -> None:
    session = connected()
    prove_phone(session, T0 + 3)
    session.camera_hint("phone", Camera.ASLEEP, T0 + 10)  # rule H2: only costs the candidate
    assert session.camera_state("phone", T0 + 10) is Camera.ASLEEP


def test_a_capture_left_unanswered_takes_the_phone_camera_down() -> None:
    session = connected()
    prove_phone(session, T0 + 3)
    session.camera_measured("pc", Camera.LIVE, T0 + 4)
    (request,) = captures(session.capture_request("42.random.1000005000", T0 + 5))
    limit = session.rules.capture_answer_s
    assert session.can_answer(T0 + 5 + limit - 1)
    assert not session.can_answer(T0 + 5 + limit + 1)
    assert session.state_message(T0 + 5 + limit + 1)["devices"]["phone"]["camera"] == "lost"
    session.photo(int(request["request_id"]), 1000, T0 + 5 + limit + 2)  # type: ignore[call-overload]
    assert session.can_answer(T0 + 5 + limit + 2)  # answered: live again


def test_a_live_hint_while_a_request_is_open_asks_nothing_more() -> None:
    session = connected()
    captures(session.phone_start(T0 + 3))  # the start photo is pending
    assert captures(session.camera_hint("phone", Camera.LIVE, T0 + 4)) == []


# ----- rule H10 -----------------------------------------------------------------


def test_each_violation_orders_its_dual_snapshot_in_the_same_step() -> None:
    session = connected()
    out = session.click_outside(T0 + 10)
    (request,) = captures(out)
    (command,) = rtc(out)
    capture = CaptureId.parse(str(command["capture_id"]))
    assert capture is not None and capture.violation == 1 and capture.attempt_id == 42
    assert session.photo_label(int(request["request_id"])) == str(capture)  # type: ignore[call-overload]


def test_the_fifth_violation_orders_its_snapshot_before_the_end() -> None:
    session = connected()
    for n in range(4):
        session.click_outside(T0 + 10 + n * 5)
    out = session.click_outside(T0 + 40)
    assert session.ended
    kinds = [(s.to, s.message["type"]) for s in out.sends]
    assert kinds.index(("rtc", "rtc.snapshot")) < kinds.index(("all", "ended"))
    (request,) = captures(out)
    # the photo of a capture issued before the end is accepted after it
    after = session.photo(int(request["request_id"]), 1000, T0 + 41)  # type: ignore[call-overload]
    assert [r.kind for r in after.records] == ["photo"]


def test_a_capture_issued_after_the_end_is_refused() -> None:
    session = connected()
    session.submit(T0 + 10)
    with pytest.raises(SessionEnded):
        session.capture_request("42.random.1000011000", T0 + 11)


def test_an_event_at_the_deadline_is_void_not_stored() -> None:
    # what the clock ended first is not acknowledged as stored
    session = Session(attempt_id=42, started_at=T0, deadline_at=T0 + 60, rules=Rules())
    session.connect("pc", T0 + 1)
    out = session.heartbeat("pc", T0 + 60)
    assert out.void and session.ended
    assert [r.kind for r in out.records] == ["ended"]  # the end, not the heartbeat


def test_requests_sent_while_the_phone_was_away_are_asked_again() -> None:
    session = connected()
    prove_phone(session, T0 + 3)
    session.disconnect("phone", T0 + 10)
    (missed,) = captures(session.click_outside(T0 + 11))  # sent to nobody
    again = captures(session.connect("phone", T0 + 20))
    assert [m["request_id"] for m in again] == [missed["request_id"]]
    assert session.camera_state("phone", T0 + 20) is Camera.LOST  # until the photo
    session.photo(int(missed["request_id"]), 1000, T0 + 21)  # type: ignore[call-overload]
    assert session.camera_state("phone", T0 + 21) is Camera.LIVE
