"""The hub ⇄ WebRTC bridge: its pure parts, the answer gate and API ends (rules D1, D4, E2, E4, H3)."""

from __future__ import annotations

import asyncpg
import pytest

from exam_api.errors import ApiError
from hub.session import Camera
from proctor.device_bridge import OWN_PHOTO_REASONS, PC_CAMERA, DeviceBridge, is_capture_id
from proctor.settings import Settings
from proctor.violation_snapshots import violations_in
from tests.support.hub_client import DeviceClient, new_attempt
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers, client_for
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


async def test_answer_gate_needs_both_cameras_live(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule D1 on the server (the gate the exam API can register)
    bridge: DeviceBridge = server.app.state.res.components["device-bridge"]
    attempt = await new_attempt(pool, settings)
    with pytest.raises(ApiError) as refused:
        await bridge.answer_gate(attempt.attempt_id)
    assert (refused.value.status, refused.value.code) == (409, "cameras_not_live")
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    try:
        assert (await pc.call("camera", state="live"))["type"] == "ack"
        with pytest.raises(ApiError):
            await bridge.answer_gate(attempt.attempt_id)
        assert (await phone.call("camera", state="live"))["type"] == "ack"
        await bridge.answer_gate(attempt.attempt_id)
        assert (await phone.call("camera", state="asleep"))["type"] == "ack"  # rule H2
        with pytest.raises(ApiError):
            await bridge.answer_gate(attempt.attempt_id)
    finally:
        await pc.close()
        await phone.close()


async def test_a_submit_through_the_api_reaches_the_phone(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule E4/D5: the exam API ends the attempt; the hub tells the phone at once
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        started = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        phone = await DeviceClient.connect(server.ws_url, "phone", started["phone_token"])
        try:
            assert (await http.post(f"/api/attempts/{started['attempt_id']}/submit")).is_success
            ended = await phone.wait_for("ended")
            assert ended["reason"] == "submitted"
            # the phone then ends its part, not early (rule D5)
            assert (await phone.call("phone_end", confirmed=False))["type"] == "ack"
        finally:
            await phone.close()
