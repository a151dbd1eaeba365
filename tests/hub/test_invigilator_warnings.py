"""An invigilator's warning and the candidate's 我知道了 (rule H4), pure:
events and ``now`` in, outputs out. The hostile websocket client's side is in
tests/exam_api/test_invigilation.py (the real hub)."""

from __future__ import annotations

import pytest

from hub.errors import NotAllowed, SessionEnded
from hub.invigilator_warnings import MAX_OPEN_WARNINGS
from hub.session import Camera, Session

T0 = 1_000_000.0


def running() -> Session:
    session = Session(attempt_id=42, started_at=T0, deadline_at=T0 + 3600)
    session.connect("pc", T0 + 1)
    session.camera_measured("pc", Camera.LIVE, T0 + 2)
    return session


def test_each_warning_has_an_id_and_asks_for_an_acknowledgement() -> None:
    # rule H4: the warning stays on screen until the candidate acknowledges it
    session = running()
    first = session.warn(by_user=3, text="请坐正", now=T0 + 5)
    second = session.warn(by_user=3, text="请勿交谈", now=T0 + 6)
    [sent] = first.sends
    assert sent.to == "devices"
    assert sent.message == {
        "type": "warning",
        "code": "invigilator",
        "id": 1,
        "at": T0 + 5,
        "ack_required": True,
        "message": "请坐正",
    }
    assert second.sends[0].message["id"] == 2
    assert first.records[0].data == {"id": 1, "by": 3, "text": "请坐正"}


def test_the_acknowledgement_is_a_durable_record_for_the_timeline() -> None:
    session = running()
    session.warn(by_user=3, text="请坐正", now=T0 + 5)
    out = session.acknowledge_warning(1, T0 + 12.5)
    [record] = out.records
    assert (record.kind, record.device, record.durable) == ("warning_ack", "pc", True)
    assert record.data == {"id": 1, "sent_at": T0 + 5, "after_s": 7.5}
    assert [s.to for s in out.sends] == ["watchers"]
    assert session.warnings_open == {}


def test_a_made_up_warning_cannot_be_acknowledged() -> None:
    session = running()
    session.warn(by_user=3, text="请坐正", now=T0 + 5)
    for made_up in (0, 2, 999):
        with pytest.raises(NotAllowed) as refused:
            session.acknowledge_warning(made_up, T0 + 6)
        assert refused.value.code == "unknown_warning"
    assert list(session.warnings_open) == [1]  # nothing changed


def test_a_warning_is_acknowledged_once() -> None:
    session = running()
    session.warn(by_user=3, text="请坐正", now=T0 + 5)
    session.acknowledge_warning(1, T0 + 6)
    with pytest.raises(NotAllowed) as refused:
        session.acknowledge_warning(1, T0 + 7)
    assert refused.value.code == "warning_acknowledged"


def test_a_pc_that_reconnects_gets_every_open_warning_again() -> None:
    # a reload never loses a warning the candidate has not acknowledged
    session = running()
    session.warn(by_user=3, text="请坐正", now=T0 + 5)
    session.warn(by_user=3, text="请勿交谈", now=T0 + 6)
    session.acknowledge_warning(1, T0 + 7)
    session.disconnect("pc", T0 + 8)
    out = session.connect("pc", T0 + 9)
    again = [s for s in out.sends if s.message["type"] == "warning"]
    assert [(s.to, s.message["id"]) for s in again] == [("pc", 2)]
    phone = session.connect("phone", T0 + 10)
    assert not [s for s in phone.sends if s.message["type"] == "warning"]


def test_open_warnings_survive_the_shared_state() -> None:
    session = running()
    session.warn(by_user=3, text="请坐正", now=T0 + 5)
    copy = Session.from_dict(session.to_dict())
    assert (copy.warning_seq, copy.warnings_open) == (1, {1: (T0 + 5, "请坐正")})
    # a state written before warnings had ids reads as none sent
    old = session.to_dict()
    del old["ws"], old["wo"]
    assert Session.from_dict(old).warnings_open == {}


def test_open_warnings_are_bounded() -> None:
    session = running()
    for i in range(MAX_OPEN_WARNINGS):
        session.warn(by_user=3, text=f"提醒 {i}", now=T0 + 5 + i)
    with pytest.raises(NotAllowed) as refused:
        session.warn(by_user=3, text="再一次", now=T0 + 100)
    assert refused.value.code == "too_many_warnings"


def test_no_acknowledgement_after_the_end() -> None:
    session = running()
    session.warn(by_user=3, text="请坐正", now=T0 + 5)
    session.submit(T0 + 6)
    with pytest.raises(SessionEnded):
        session.acknowledge_warning(1, T0 + 7)
