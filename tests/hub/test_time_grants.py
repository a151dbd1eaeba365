"""Extra time and resume in the pure session (rules M2, M3)."""

from __future__ import annotations

import pytest

from hub.errors import NotAllowed, SessionEnded
from hub.session import Camera, EndReason, Outputs, Session, Status

T0 = 1_000_000.0


def live_session(limit_s: float = 3600.0) -> Session:
    session = Session(attempt_id=7, started_at=T0, deadline_at=T0 + limit_s)
    session.connect("pc", T0 + 1)
    session.connect("phone", T0 + 2)
    session.camera_measured("pc", Camera.LIVE, T0 + 3)
    session.camera_measured("phone", Camera.LIVE, T0 + 4)
    return session


def messages(out: Outputs, kind: str) -> list[dict[str, object]]:
    return [s.message for s in out.sends if s.message["type"] == kind]


def test_extra_time_moves_the_deadline_and_tells_every_device_and_watcher() -> None:
    # rule M2: the server's deadline moves; devices and the wall hear it at once
    session = live_session()
    out = session.extend(T0 + 3600 + 300, 300, 9, T0 + 1000)
    assert session.deadline_at == T0 + 3900
    [notice] = messages(out, "extra_time")
    assert notice["added_s"] == 300 and notice["remaining_s"] == 2900
    assert "5 分钟" in str(notice["message"])
    [state] = messages(out, "state")
    assert state["remaining_s"] == 2900
    assert {s.to for s in out.sends} == {"all"}
    assert out.records[0].kind == "extra_time" and out.records[0].data["by"] == 9


def test_extra_time_after_the_old_deadline_keeps_an_open_attempt_open() -> None:
    # rule M2: granted after the original deadline passed, the attempt not yet ended
    session = live_session(limit_s=600)
    out = session.extend(T0 + 610 + 300, 300, 9, T0 + 610)
    assert not session.ended
    assert messages(out, "extra_time")[0]["remaining_s"] == 300
    assert session.can_answer(T0 + 700)


def test_a_stale_read_of_the_older_deadline_never_takes_the_grant_back() -> None:
    # rule M2: the scheduler read the old deadline before the grant was written
    session = live_session(limit_s=600)
    session.extend(T0 + 900, 300, 9, T0 + 610)
    session.set_deadline(T0 + 600, T0 + 620)
    assert not session.ended and session.deadline_at == T0 + 900
    session.set_deadline(T0 + 1200, T0 + 630)  # a later grant's deadline is followed
    assert session.deadline_at == T0 + 1200
    session.tick(T0 + 1200)
    assert session.end_reason is EndReason.TIME_UP and session.ended_at == T0 + 1200


def test_extra_time_twice_adds_up_and_an_ended_attempt_gets_none() -> None:
    # rule M2: granted twice
    session = live_session()
    session.extend(T0 + 3900, 300, 9, T0 + 100)
    session.extend(T0 + 4200, 300, 9, T0 + 200)
    assert session.deadline_at == T0 + 4200
    session.submit(T0 + 300)
    with pytest.raises(SessionEnded):
        session.extend(T0 + 4500, 300, 9, T0 + 400)


def abandoned(session: Session, left_at: float) -> None:
    session.disconnect("pc", left_at - 5)
    session.disconnect("phone", left_at)
    session.tick(left_at + session.rules.abandon_after_s)
    assert session.end_reason is EndReason.ABANDONED


def test_resume_reopens_an_abandoned_attempt_with_the_time_it_had_at_the_fault() -> None:
    # rule M3: the remaining time counts from when the last device left
    session = live_session()
    abandoned(session, T0 + 1000)
    assert session.fault_at() == T0 + 1000
    left = session.deadline_at - T0 - 1000  # 2600 s
    now = T0 + 5000
    out = session.reopen(now + left, 9, now)
    assert session.status is Status.RUNNING and session.ended_at is None
    assert messages(out, "resumed")[0]["deadline_at"] == now + left
    assert messages(out, "state")[0]["remaining_s"] == left
    # the abandonment clock starts again from the reopening
    assert session.tick(now + session.rules.abandon_after_s - 1).records == []
    session.connect("pc", now + 10)
    assert session.devices["phone"].outage_since == now


def test_resume_after_an_invigilator_end_counts_from_the_end() -> None:
    session = live_session()
    session.invigilator_end(9, "电脑死机", T0 + 2000)
    assert session.fault_at() == T0 + 2000
    session.reopen(T0 + 4000, 9, T0 + 2400)
    assert not session.ended


@pytest.mark.parametrize("ending", ["submit", "time_up", "fifth"])
def test_submitted_time_up_or_fifth_violation_cannot_be_reopened(ending: str) -> None:
    # rule M3: a submitted attempt or the fifth violation stays ended
    session = live_session()
    if ending == "submit":
        session.submit(T0 + 10)
    elif ending == "time_up":
        session.tick(T0 + 3600)
    else:
        for n in range(5):
            session.focus_lost("blur", T0 + 100 * (n + 1))
            if not session.ended:
                session.focus_back(T0 + 100 * (n + 1) + 2)
        assert session.end_reason is EndReason.FIFTH_VIOLATION
    with pytest.raises(NotAllowed):
        session.reopen(T0 + 9000, 9, T0 + 5000)
    assert session.ended


def test_a_running_attempt_cannot_be_reopened() -> None:
    with pytest.raises(NotAllowed):
        live_session().reopen(T0 + 9000, 9, T0 + 5000)


def test_grants_round_trip_through_the_shared_state() -> None:
    session = live_session()
    session.extend(T0 + 3900, 300, 9, T0 + 100)
    assert Session.from_dict(session.to_dict()) == session
