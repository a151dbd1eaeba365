"""The pure parts of the hub ⇄ WebRTC bridge (rules D4, E2, H3)."""

from __future__ import annotations

from hub.session import Camera
from proctor.device_bridge import OWN_PHOTO_REASONS, PC_CAMERA, is_capture_id
from proctor.violation_snapshots import violations_in
from webrtc.snapshots import sign_capture_id


def test_capture_ids_are_told_from_the_phones_own_reasons() -> None:
    assert is_capture_id(sign_capture_id(b"k" * 32, 42, "random", 1_700_000_000_000))
    for label in ("start", "return", "violation", "", "1.2.3", "a.random.3.mac"):
        assert not is_capture_id(label)
    # rule D4: the session's own photos are stored under the evidence reasons
    assert OWN_PHOTO_REASONS == {"start": "start", "return": "return_to_page"}


def test_measured_pc_camera_states_map_onto_the_session() -> None:
    # rules D1/H2: a stalled or ended video is a lost camera; waiting changes nothing
    assert PC_CAMERA == {"live": Camera.LIVE, "stalled": Camera.LOST, "ended": Camera.LOST}
    assert "waiting" not in PC_CAMERA


def test_violations_in_a_hub_update() -> None:
    update = [
        {"to": "all", "m": {"type": "violation", "count": 1}},
        {"to": "all", "m": {"type": "state"}},
    ]
    assert violations_in(update) == 1
    assert violations_in([{"to": "all", "m": {"type": "state"}}]) == 0
    # the ingest's own messages on the channel are objects, not lists
    assert violations_in({"type": "capture", "capture_id": "x"}) == 0
    assert violations_in([1, "x", {"m": "violation"}, {"to": "all"}]) == 0
