"""The pure session state machine: one test per exam rule."""

from __future__ import annotations

import pytest

from hub.errors import NotAllowed, SessionEnded
from hub.session import Camera, EndReason, Outputs, Rules, Session, Status

T0 = 1_000_000.0


def make_session(limit_s: float = 3600.0, **rules: float) -> Session:
    return Session(attempt_id=42, started_at=T0, deadline_at=T0 + limit_s, rules=Rules(**rules))  # type: ignore[arg-type]


def live_session() -> Session:
    session = make_session()
    session.connect("pc", T0 + 1)
    session.connect("phone", T0 + 2)
    session.camera_measured("pc", Camera.LIVE, T0 + 3)
    session.camera_measured("phone", Camera.LIVE, T0 + 4)
    return session


def messages(out: Outputs, kind: str) -> list[dict[str, object]]:
    return [s.message for s in out.sends if s.message["type"] == kind]


def switch_away(session: Session, at: float) -> Outputs:
    out = session.focus_lost("visibility", at)
    out.extend(session.focus_lost("blur", at + 0.01))
    if not session.ended:
        out.extend(session.focus_back(at + 2))
    return out


# ----- rule E3 ----------------------------------------------------------------


def test_each_violation_tells_the_candidate_n_of_5() -> None:
    # rule E3: the candidate sees how many of 5 are used
    session = live_session()
    for n in range(1, 5):
        out = switch_away(session, T0 + 100 * n)
        [violation] = messages(out, "violation")
        assert violation["count"] == n
        assert violation["max"] == 5
        assert f"{n}/5" in str(violation["message"])
        assert not session.ended


def test_fifth_violation_ends_and_submits() -> None:
    # rule E3: at the 5th the attempt ends and is submitted automatically
    session = live_session()
    for n in range(1, 5):
        switch_away(session, T0 + 100 * n)
    out = session.focus_lost("blur", T0 + 600)
    assert session.ended
    assert session.end_reason is EndReason.FIFTH_VIOLATION
    [ended] = messages(out, "ended")
    assert ended["reason"] == "fifth_violation"
    assert any(s.to == "all" and s.message["type"] == "ended" for s in out.sends)
    kinds = [r.kind for r in out.durable]
    assert kinds.count("violation") >= 1 and "ended" in kinds


def test_click_outside_counts_toward_five() -> None:
    # rule E3: clicking outside the paper is a violation
    session = live_session()
    for n in range(5):
        session.click_outside(T0 + 10 * (n + 1))
    assert session.end_reason is EndReason.FIFTH_VIOLATION


def test_violation_is_a_durable_record_with_kind_and_duration() -> None:
    # rule H3: a violation records its kind and duration
    session = live_session()
    out = session.focus_lost("visibility", T0 + 10)
    [counted] = [r for r in out.records if r.kind == "violation"]
    assert counted.durable  # in PostgreSQL before the ack
    out = session.focus_back(T0 + 17)
    [record] = [r for r in out.records if r.kind == "violation"]
    assert not record.durable  # the duration follows as telemetry
    assert record.data["kind"] == "tab_hidden"
    assert record.data["duration_s"] == 7.0


def test_one_switch_counts_once() -> None:
    # rule H3: blur, visibilitychange and pagehide of one switch are one violation
    session = live_session()
    session.focus_lost("blur", T0 + 10)
    session.focus_lost("visibility", T0 + 10.01)
    session.focus_lost("pagehide", T0 + 10.02)
    assert session.violation_count == 1


def test_forgiven_violation_no_longer_counts() -> None:
    # rule H3: an invigilator may forgive one, audited
    session = live_session()
    session.click_outside(T0 + 10)
    out = session.forgive(1, by_user=9, now=T0 + 20)
    assert session.violation_count == 0
    assert any(r.kind == "forgiven" and r.durable for r in out.records)


# ----- rule E4 ----------------------------------------------------------------


def test_time_up_ends_by_the_server_clock() -> None:
    # rule E4: reaching the time limit ends the attempt; the server clock decides
    session = make_session(limit_s=60)
    session.connect("pc", T0 + 1)
    assert session.tick(T0 + 59.9).sends == []
    out = session.tick(T0 + 60)
    assert session.end_reason is EndReason.TIME_UP
    assert session.ended_at == T0 + 60
    assert messages(out, "ended")[0]["reason"] == "time_up"


def test_time_up_ends_with_both_devices_gone() -> None:
    # rule E4 + H1: nobody connected, the deadline still ends the attempt
    session = make_session(limit_s=60)
    session.connect("pc", T0 + 1)
    session.disconnect("pc", T0 + 2)
    session.tick(T0 + 61)
    assert session.end_reason is EndReason.TIME_UP


def test_event_after_the_deadline_ends_instead_of_applying() -> None:
    # rule E4: a late event does not count; the clock ended the attempt first
    session = live_session()
    out = session.focus_lost("blur", T0 + 4000)
    assert session.end_reason is EndReason.TIME_UP
    assert session.violation_count == 0
    assert messages(out, "ended")


def test_submit_ends() -> None:
    # rule E4: submitting ends the attempt
    session = live_session()
    out = session.submit(T0 + 30)
    assert session.end_reason is EndReason.SUBMITTED
    assert [r.kind for r in out.durable] == ["ended"]


def test_events_after_the_end_are_refused() -> None:
    session = live_session()
    session.submit(T0 + 30)
    for event in (
        lambda: session.focus_lost("blur", T0 + 31),
        lambda: session.heartbeat("pc", T0 + 31),
        lambda: session.submit(T0 + 31),
        lambda: session.connect("phone", T0 + 31),
        lambda: session.camera_measured("pc", Camera.LOST, T0 + 31),
    ):
        with pytest.raises(SessionEnded):
            event()
    assert session.tick(T0 + 5000).sends == []


def test_end_closes_an_open_violation() -> None:
    session = live_session()
    session.focus_lost("blur", T0 + 10)
    out = session.submit(T0 + 15)
    [record] = [r for r in out.records if r.kind == "violation"]
    assert record.data["duration_s"] == 5.0


def test_invigilator_end() -> None:
    session = live_session()
    out = session.invigilator_end(by_user=3, note="代考", now=T0 + 50)
    assert session.end_reason is EndReason.INVIGILATOR
    assert out.durable[-1].data["by"] == 3


def test_warning_goes_to_the_devices() -> None:
    # rule H4: warnings sent to the candidate
    session = live_session()
    out = session.warn(by_user=3, text="请保持面部在画面内", now=T0 + 5)
    assert out.sends[0].to == "devices"
    assert out.sends[0].message["message"] == "请保持面部在画面内"


# ----- rule D1 ----------------------------------------------------------------


def test_answering_needs_both_cameras_live() -> None:
    # rule D1: both cameras must be live before the candidate can answer
    session = make_session()
    session.connect("pc", T0 + 1)
    session.connect("phone", T0 + 1)
    assert not session.can_answer(T0 + 2)
    session.camera_measured("pc", Camera.LIVE, T0 + 2)
    with pytest.raises(NotAllowed):
        session.check_answer(T0 + 3)
    out = session.camera_measured("phone", Camera.LIVE, T0 + 3)
    assert messages(out, "state")[0]["can_answer"] is True
    session.check_answer(T0 + 4)
    session.camera_hint("phone", Camera.ASLEEP, T0 + 5)
    assert not session.can_answer(T0 + 6)


def test_no_answer_after_end_or_deadline() -> None:
    session = live_session()
    with pytest.raises(SessionEnded):
        session.check_answer(T0 + 3600)
    session.submit(T0 + 10)
    with pytest.raises(SessionEnded):
        session.check_answer(T0 + 11)


# ----- rules H1, H2 -------------------------------------------------------------


def test_dropped_connection_is_an_outage_not_a_violation() -> None:
    # rule H1: a dropped connection is an outage with a grace window
    session = live_session()
    out = session.disconnect("pc", T0 + 10)
    assert session.violation_count == 0
    assert [r.kind for r in out.records] == ["outage_start"]
    assert session.devices["pc"].outage_since == T0 + 10
    out = session.connect("pc", T0 + 25)
    [outage] = [r for r in out.records if r.kind == "outage_end"]
    assert outage.data["duration_s"] == 15.0
    assert outage.data["over_grace"] is False
    assert session.violation_count == 0
    assert session.devices["pc"].outages == 1


def test_outage_longer_than_grace_is_flagged() -> None:
    session = live_session()
    session.disconnect("phone", T0 + 10)
    out = session.connect("phone", T0 + 10 + 500)
    [outage] = [r for r in out.records if r.kind == "outage_end"]
    assert outage.data["over_grace"] is True


def test_both_devices_gone_too_long_is_abandoned() -> None:
    session = live_session()
    session.disconnect("pc", T0 + 10)
    session.disconnect("phone", T0 + 20)
    session.tick(T0 + 20 + 1799)
    assert not session.ended
    session.tick(T0 + 20 + 1800)
    assert session.end_reason is EndReason.ABANDONED


def test_the_only_device_gone_too_long_is_abandoned_too() -> None:
    session = make_session()
    session.connect("pc", T0 + 1)
    session.disconnect("pc", T0 + 10)
    session.tick(T0 + 10 + 1800)
    assert session.end_reason is EndReason.ABANDONED


def test_a_device_back_in_time_keeps_the_attempt() -> None:
    session = live_session()
    session.disconnect("pc", T0 + 10)
    session.disconnect("phone", T0 + 20)
    session.connect("phone", T0 + 1000)
    session.tick(T0 + 3000)  # before the deadline, long after the PC left
    assert not session.ended


def test_phone_camera_asleep_is_its_own_state() -> None:
    # rule H2: a lost or sleeping phone camera is its own state, shown to all
    session = live_session()
    out = session.camera_hint("phone", Camera.ASLEEP, T0 + 10)
    [state] = messages(out, "state")
    assert state["devices"]["phone"]["camera"] == "asleep"  # type: ignore[index]
    assert out.sends[0].to == "all"
    with pytest.raises(NotAllowed):
        session.camera_hint("pc", Camera.ASLEEP, T0 + 11)


def test_phone_socket_drop_marks_its_camera_lost() -> None:
    # rule H2
    session = live_session()
    session.disconnect("phone", T0 + 10)
    assert session.devices["phone"].camera is Camera.LOST
    assert not session.can_answer(T0 + 11)


def test_heartbeat_needs_a_connection() -> None:
    session = make_session()
    with pytest.raises(NotAllowed):
        session.heartbeat("pc", T0 + 1)
    session.connect("pc", T0 + 1)
    out = session.heartbeat("pc", T0 + 6)
    assert [r.kind for r in out.records] == ["heartbeat"]  # the time's owner: hb:pc
    assert not out.durable


# ----- rules D4, D5 -------------------------------------------------------------


def test_phone_start_takes_a_photo_at_once() -> None:
    # rule D4: start takes a photo at once
    session = live_session()
    out = session.phone_start(T0 + 5)
    [capture] = messages(out, "capture")
    assert capture["reason"] == "start"
    assert out.sends[0].to == "phone"


def test_every_return_to_the_exam_page_takes_a_photo() -> None:
    # rule D4: every return to the exam page takes a photo
    session = live_session()
    session.phone_start(T0 + 5)
    ids = [messages(session.page_return(T0 + 10 * n), "capture")[0]["request_id"] for n in (1, 2)]
    assert ids == [2, 3]
    session.photo(3, 1000, T0 + 31)
    with pytest.raises(NotAllowed):
        session.photo(4, 1000, T0 + 32)


def test_ending_the_phone_early_asks_and_is_recorded() -> None:
    # rule D5: ending earlier asks for confirmation and is recorded
    session = live_session()
    out = session.phone_end(confirmed=False, now=T0 + 10)
    assert messages(out, "confirm")[0]["action"] == "phone_end"
    assert session.phone_finished_at is None
    out = session.phone_end(confirmed=True, now=T0 + 12)
    [record] = out.durable
    assert record.kind == "phone_end" and record.data["early"] is True
    with pytest.raises(NotAllowed):
        session.page_return(T0 + 13)


def test_ending_the_phone_after_the_pc_needs_no_confirmation() -> None:
    # rule D5
    session = live_session()
    session.submit(T0 + 10)
    out = session.phone_end(confirmed=False, now=T0 + 12)
    assert out.records[0].data["early"] is False
    assert not messages(out, "confirm")


# ----- sharing ------------------------------------------------------------------


def test_round_trip_through_a_dict_keeps_every_rule_state() -> None:
    session = live_session()
    session.focus_lost("blur", T0 + 10)
    session.phone_start(T0 + 11)
    copy = Session.from_dict(session.to_dict())
    assert copy == session
    copy.focus_back(T0 + 12)
    assert copy.violation_count == 1
    assert copy.status is Status.RUNNING


def test_deadline_follows_the_database_and_ends_when_passed() -> None:
    # rule E4: the deadline is the server's; a changed deadline is followed
    session = live_session()
    out = session.set_deadline(T0 + 100, T0 + 50)
    assert not session.ended and session.deadline_at == T0 + 100
    assert out.records[0].kind == "deadline"
    session.set_deadline(T0 + 90, T0 + 95)
    assert session.end_reason is EndReason.TIME_UP
    assert session.ended_at == T0 + 90


def test_replaced_connection_does_not_disconnect_the_device() -> None:
    # rule H1: a device that reconnected elsewhere stays connected
    session = make_session()
    session.connect("pc", T0 + 1, conn="a")
    session.connect("pc", T0 + 2, conn="b")
    assert session.disconnect("pc", T0 + 3, conn="a").records == []
    assert session.devices["pc"].connected
    session.disconnect("pc", T0 + 4, conn="b")
    assert not session.devices["pc"].connected


def test_capture_requests_are_answered_once() -> None:
    # rule D4: a photo answers one open capture request
    session = live_session()
    request_id = messages(session.phone_start(T0 + 5), "capture")[0]["request_id"]
    out = session.photo(int(str(request_id)), 2048, T0 + 6)
    assert out.records[0].data["reason"] == "start"
    with pytest.raises(NotAllowed):
        session.photo(int(str(request_id)), 2048, T0 + 7)
