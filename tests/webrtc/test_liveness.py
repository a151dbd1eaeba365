"""Camera liveness (rules D1, H2): a stopped camera is known within 3 s."""

from __future__ import annotations

import pytest

from webrtc.ingest import TICK_S
from webrtc.liveness import CameraLiveness


def test_waiting_until_the_first_frame_then_live() -> None:
    camera = CameraLiveness(stale_after_s=2.0)
    assert camera.observe(0.0, None, ended=False) is None
    assert camera.state == "waiting"
    assert camera.observe(1.0, 0.9, ended=False) == "live"
    assert camera.observe(1.5, 1.4, ended=False) is None  # no change, no event


def test_frames_stopping_turn_stalled_and_resuming_turns_live() -> None:
    camera = CameraLiveness(stale_after_s=2.0)
    camera.observe(1.0, 1.0, ended=False)
    assert camera.observe(3.0, 1.0, ended=False) is None  # exactly at the limit: still live
    assert camera.observe(3.01, 1.0, ended=False) == "stalled"
    assert camera.observe(4.0, 3.9, ended=False) == "live"


@pytest.mark.parametrize("stop_at", [0.0, 0.1, 0.25, 0.49])
def test_a_stop_is_reported_within_three_seconds_by_the_ticking_monitor(stop_at: float) -> None:
    # The monitor observes every TICK_S; frames come at ≥3 fps until stop_at.
    camera = CameraLiveness()
    camera.observe(stop_at, stop_at, ended=False)
    t = 0.0
    while camera.observe(t, stop_at, ended=False) != "stalled":
        t += TICK_S
        assert t < 10
    assert t - stop_at <= 3.0


def test_page_reported_mute_is_stalled_at_once() -> None:
    camera = CameraLiveness()
    camera.observe(1.0, 1.0, ended=False)
    assert camera.observe(1.1, 1.0, ended=False, muted=True) == "stalled"
    assert camera.observe(1.2, 1.2, ended=False) == "live"


def test_ended_is_final() -> None:
    camera = CameraLiveness()
    camera.observe(1.0, 1.0, ended=False)
    assert camera.observe(1.2, 1.1, ended=True) == "ended"
    assert camera.observe(5.0, 4.9, ended=False) is None
    assert camera.state == "ended"
