"""The session's rule J1 (the whole screen shared, as measured, to answer),
pure: events and ``now`` in, outputs out."""

from __future__ import annotations

import pytest

from hub.devices import SCREEN
from hub.errors import NotAllowed
from hub.session import Camera, Rules, Session

T0 = 1_000_000.0


def cameras_live(require_screen: bool = True) -> Session:
    """Both devices connected, both cameras live as measured (rule D1)."""
    rules = Rules(require_screen=require_screen)
    session = Session(attempt_id=42, started_at=T0, deadline_at=T0 + 3600, rules=rules)
    session.connect("pc", T0 + 1)
    session.connect("phone", T0 + 2)
    (request,) = [s.message for s in session.phone_start(T0 + 3).sends if s.to == "phone"]
    session.photo(int(request["request_id"]), 1000, T0 + 4)  # type: ignore[call-overload]
    session.camera_measured("pc", Camera.LIVE, T0 + 5)
    return session


def test_answering_waits_for_the_measured_screen_share() -> None:
    # rule J1: both cameras live are not enough while no screen is shared
    session = cameras_live()
    assert not session.can_answer(T0 + 6)
    with pytest.raises(NotAllowed) as refused:
        session.check_answer(T0 + 6)
    assert refused.value.code == "cameras_not_live"
    state = session.state_message(T0 + 6)
    assert state["screen"] == {"state": "off", "required": True}
    out = session.camera_measured(SCREEN, Camera.LIVE, T0 + 7)
    assert session.can_answer(T0 + 7)
    assert out.sends[0].message["screen"]["state"] == "live"
    assert out.sends[0].message["can_answer"] is True


def test_a_stopped_share_blocks_answering_and_is_on_the_timeline() -> None:
    # rule J1: a share that stops (or is only a window) blocks like a lost camera
    session = cameras_live()
    session.camera_measured(SCREEN, Camera.LIVE, T0 + 7)
    out = session.camera_measured(SCREEN, Camera.LOST, T0 + 20)
    assert not session.can_answer(T0 + 20)
    (record,) = out.records
    assert (record.kind, record.device) == ("screen", "pc")
    assert record.data == {"state": "lost", "previous": "live", "source": "measured"}
    assert session.camera_measured(SCREEN, Camera.LOST, T0 + 21).records == []  # no change
    session.camera_measured(SCREEN, Camera.LIVE, T0 + 30)
    assert session.can_answer(T0 + 30)


def test_a_screen_cannot_be_asleep() -> None:
    session = cameras_live()
    with pytest.raises(NotAllowed):
        session.camera_measured(SCREEN, Camera.ASLEEP, T0 + 7)


def test_without_the_rule_the_screen_is_recorded_but_not_required() -> None:
    session = cameras_live(require_screen=False)
    assert session.can_answer(T0 + 6)
    out = session.camera_measured(SCREEN, Camera.LIVE, T0 + 7)
    assert [r.kind for r in out.records] == ["screen"]


def test_the_screen_round_trips_through_the_shared_state() -> None:
    # several hub processes share the session in Redis (rule H8)
    session = cameras_live()
    session.camera_measured(SCREEN, Camera.LIVE, T0 + 7)
    again = Session.from_dict(session.to_dict())
    assert again.rules.require_screen
    assert (again.screen, again.screen_since) == (Camera.LIVE, T0 + 7)
    assert again.can_answer(T0 + 8)


def test_a_state_written_before_the_screen_existed_still_loads() -> None:
    data = cameras_live().to_dict()
    data["r"] = data["r"][:5]
    del data["sc"]
    old = Session.from_dict(data)
    assert old.screen is Camera.OFF and not old.rules.require_screen
