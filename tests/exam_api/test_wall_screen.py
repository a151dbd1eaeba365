"""The wall's tile shows the PC's screen share beside the two cameras, and a
required share that is not live raises the risk (rules J1, J2, H4)."""

from __future__ import annotations

from exam_api.wall import POINTS, AttemptFacts, Snapshot, build_tile
from hub.devices import SCREEN
from hub.session import Camera, Rules, Session

T0 = 1_800_000_000.0


def facts(**latest: Snapshot) -> AttemptFacts:
    return AttemptFacts(
        attempt_id=1,
        candidate_name="张三",
        username="u1",
        paper_title="正式考试",
        class_id=1,
        class_name="考场一",
        started_at=T0,
        deadline_at=T0 + 3600,
        violations=0,
        latest=dict(latest),
    )


def live_session(require_screen: bool) -> Session:
    s = Session(1, T0, T0 + 3600, rules=Rules(require_screen=require_screen))
    for device in ("pc", "phone"):
        s.connect(device, T0 + 1)
        s.camera_measured(device, Camera.LIVE, T0 + 1)
    return s


def test_a_live_share_and_its_latest_frame_sit_beside_the_cameras() -> None:
    s = live_session(require_screen=True)
    s.camera_measured(SCREEN, Camera.LIVE, T0 + 2)
    shot = Snapshot(id=7, taken_at=T0 + 5, faces=None)
    tile = build_tile(facts(screen=shot), s, {"pc": T0 + 9, "phone": T0 + 9}, T0 + 10)
    assert tile["risk"] == 0
    assert tile["screen"]["state"] == "live" and tile["screen"]["required"] is True
    assert tile["screen"]["snapshot"]["image_url"] == "/api/rtc/snapshots/7/image"
    assert set(tile["cameras"]) == {"pc", "phone"}  # the screen is not a camera


def test_a_required_share_that_stopped_raises_the_risk() -> None:
    s = live_session(require_screen=True)
    s.camera_measured(SCREEN, Camera.LIVE, T0 + 2)
    s.camera_measured(SCREEN, Camera.LOST, T0 + 5)
    tile = build_tile(facts(), s, {"pc": T0 + 9, "phone": T0 + 9}, T0 + 10)
    assert tile["risk"] == POINTS["screen_lost"]
    assert tile["risk_reasons"] == ["screen_lost"]


def test_an_optional_share_costs_nothing() -> None:
    tile = build_tile(facts(), live_session(False), {"pc": T0 + 9, "phone": T0 + 9}, T0 + 10)
    assert tile["risk"] == 0 and tile["screen"]["state"] == "off"
