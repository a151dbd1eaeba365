"""Live video of a watched tile (rules L2, H4, H8; ``webrtc/live_video.py``):
the candidate's VP8 frames forwarded as they are to the invigilator's peer,
on the process holding the candidate's peer, whichever process the
invigilator's offer lands on. Real aiortc peers on both sides, two app
instances sharing Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator

import asyncpg
import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from redis.asyncio import Redis

from hub.keys import Keys
from proctor.settings import Settings
from tests.support.clock import SteppedClock
from tests.support.invigilation import room_with_attempts
from tests.support.live import LiveServer, start_live_server
from tests.support.papers import client_for
from tests.support.rtc_peers import FakeCamera, offer_camera
from tests.support.rtc_server import other_server, wait_pc_camera_live
from tests.support.users import create_user
from tests.support.waits import eventually
from webrtc.errors import RtcError
from webrtc.ingest import HIGH_FPS, LOW_FPS
from webrtc.live_video import (
    CONNECT_WITHIN_S,
    MAX_QUEUED,
    MAX_VIEWERS_PER_ATTEMPT,
    ForwardedTrack,
    check_viewer_offer,
)
from webrtc.loopback import enable_loopback_candidates

KEY = b"\x10\x02\x00\x9d\x01\x2a\x80\x02\xe0\x01" + b"k" * 20  # a VP8 keyframe's header, 640x480
DELTA = b"\x31\x00\x00" + b"d" * 20


__all__ = ["other_server"]


async def test_a_forwarded_track_hands_on_the_encoded_frames_from_a_keyframe() -> None:
    wanted: list[bool] = []
    track = ForwardedTrack(want_keyframe=lambda: wanted.append(True))
    track.push(DELTA, 1000, False)  # a decoder cannot start here: dropped
    track.push(KEY, 3000, True)
    track.push(DELTA, 9000, False)
    first, second = await track.recv(), await track.recv()
    assert isinstance(first, av.Packet) and bytes(first) == KEY  # the same bytes, not decoded
    assert (first.pts, second.pts) == (0, 6000) and bytes(second) == DELTA
    assert first.time_base is not None and first.time_base.denominator == 90_000
    assert track.dropped == 1 and wanted == []
    # a viewer that falls behind: the queue is bounded, the next keyframe is asked for
    for n in range(MAX_QUEUED + 1):
        track.push(DELTA, 9000 + n, False)
    assert wanted == [True]
    track.push(DELTA, 99_000, False)  # still waiting for a keyframe
    track.push(KEY, 100_000, True)
    assert bytes(await track.recv()) == KEY
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda sdp: sdp.replace("a=recvonly", "a=sendrecv"), "bad_sdp"),  # it would send to us
        (lambda sdp: "x" + sdp, "bad_sdp"),
        (lambda sdp: sdp + "a=" + "x" * 70_000 + "\r\n", "bad_sdp"),
        (lambda sdp: sdp.replace("VP8/90000", "H264/90000"), "codec_not_accepted"),
    ],
)
async def test_a_viewer_offer_must_ask_to_receive_one_vp8_video(change: object, code: str) -> None:
    viewer = RTCPeerConnection()
    try:
        viewer.addTransceiver("video", direction="recvonly")
        await viewer.setLocalDescription(await viewer.createOffer())
        sdp = viewer.localDescription.sdp
        check_viewer_offer(sdp)  # the real one passes
        with pytest.raises(RtcError) as refused:
            check_viewer_offer(change(sdp))  # type: ignore[operator]
        assert refused.value.code == code
    finally:
        await viewer.close()


async def test_live_video_reaches_an_invigilator_on_another_process_undecoded(
    rtc_server: LiveServer,
    other_server: LiveServer,
    pool: asyncpg.Pool,
    rtc_settings: Settings,
    redis: Redis,
) -> None:
    room = await room_with_attempts(pool, rtc_settings, ["丑"])
    attempt = room.attempts[0]
    enable_loopback_candidates()
    page = RTCPeerConnection()
    page.addTrack(FakeCamera(bgr=(40, 160, 220)))
    rates: list[int] = []
    control = page.createDataChannel("control")

    @control.on("message")
    def on_message(message: str) -> None:
        data = json.loads(message)
        if data.get("type") == "rate":
            rates.append(data["max_framerate"])

    viewer = RTCPeerConnection()
    received: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    @viewer.on("track")
    def on_track(track: object) -> None:
        if not received.done():
            received.set_result(track)

    holder, asker = rtc_server.viewers, other_server.viewers
    try:
        await offer_camera(page, rtc_server.url, attempt.pc_token, secrets.token_hex(8))
        keys = Keys(rtc_settings.redis_prefix)
        await wait_pc_camera_live(other_server, redis, keys, attempt.attempt_id)
        assert rates == [LOW_FPS]
        viewer.addTransceiver("video", direction="recvonly")
        await viewer.setLocalDescription(await viewer.createOffer())
        url = f"/api/invigilate/attempts/{attempt.attempt_id}/live-video"
        async with await client_for(other_server.url, pool, room.invigilator.id) as http:
            bad = await http.post(url, json={"sdp": 5, "type": "offer"})
            assert (bad.status_code, bad.json()["error"]) == (400, "bad_offer")
            answered = await http.post(
                url, json={"sdp": viewer.localDescription.sdp, "type": "offer"}
            )
            assert answered.status_code == 200, answered.text
            answer = answered.json()
            assert answer["type"] == "answer"
            await viewer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            # the viewer's peer is on the process holding the candidate's peer
            assert holder.count(attempt.attempt_id) == 1 and asker.count(attempt.attempt_id) == 0
            track = await asyncio.wait_for(received, timeout=20)
            frame = await asyncio.wait_for(track.recv(), timeout=20)  # type: ignore[attr-defined]
            picture = frame.to_ndarray(format="bgr24")
            assert picture.shape == (480, 640, 3)
            # the candidate's colour, through one VP8 encode (the page's) only
            assert np.abs(picture.reshape(-1, 3).mean(axis=0) - (40, 160, 220)).max() < 12

            async def raised() -> bool:  # watched: the page sends its full rate
                return rates[-1] == HIGH_FPS

            await eventually(raised)
            forwarded = holder.viewers[attempt.attempt_id][0].track
            assert forwarded.forwarded > 0
            # the panel closes: the lease goes, and the viewer's peer with it
            watch = f"/api/invigilate/attempts/{attempt.attempt_id}/watch"
            assert (await http.post(watch, json={"watched": False})).is_success

            async def closed() -> bool:
                return holder.count(attempt.attempt_id) == 0

            await eventually(closed)
    finally:
        await viewer.close()
        await page.close()
        await rtc_server.rtc.close_attempt(attempt.attempt_id)


async def test_no_live_video_without_a_live_pc_camera(
    other_server: LiveServer, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    room = await room_with_attempts(pool, rtc_settings, ["寅"])
    viewer = RTCPeerConnection()
    try:
        viewer.addTransceiver("video", direction="recvonly")
        await viewer.setLocalDescription(await viewer.createOffer())
        async with await client_for(other_server.url, pool, room.invigilator.id) as http:
            got = await http.post(
                f"/api/invigilate/attempts/{room.attempts[0].attempt_id}/live-video",
                json={"sdp": viewer.localDescription.sdp, "type": "offer"},
            )
        assert (got.status_code, got.json()["error"]) == (404, "no_live_video")
    finally:
        await viewer.close()


async def _viewer_offer() -> tuple[RTCPeerConnection, dict[str, str]]:
    viewer = RTCPeerConnection()
    viewer.addTransceiver("video", direction="recvonly")
    await viewer.setLocalDescription(await viewer.createOffer())
    return viewer, {"sdp": viewer.localDescription.sdp, "type": "offer"}


async def test_viewers_of_one_attempt_are_bounded(
    rtc_server: LiveServer, pool: asyncpg.Pool, rtc_settings: Settings, redis: Redis
) -> None:
    # nothing unbounded: the fifth watcher of one attempt is refused, clearly
    room = await room_with_attempts(pool, rtc_settings, ["卯"])
    attempt = room.attempts[0]
    watchers = [room.invigilator.id] + [
        (await create_user(pool, "admin")).id for _ in range(MAX_VIEWERS_PER_ATTEMPT)
    ]
    enable_loopback_candidates()
    page = RTCPeerConnection()
    page.addTrack(FakeCamera())
    viewers: list[RTCPeerConnection] = []
    try:
        await offer_camera(page, rtc_server.url, attempt.pc_token, secrets.token_hex(8))
        await wait_pc_camera_live(
            rtc_server, redis, Keys(rtc_settings.redis_prefix), attempt.attempt_id
        )
        url = f"/api/invigilate/attempts/{attempt.attempt_id}/live-video"
        replies = []
        for watcher in watchers:
            viewer, offer = await _viewer_offer()
            viewers.append(viewer)
            async with await client_for(rtc_server.url, pool, watcher) as http:
                replies.append(await http.post(url, json=offer))
                figures = (await http.get("/metrics")).text
        assert [r.status_code for r in replies] == [200] * MAX_VIEWERS_PER_ATTEMPT + [503]
        assert replies[-1].json()["error"] == "too_many_viewers"
        assert rtc_server.viewers.count(attempt.attempt_id) == MAX_VIEWERS_PER_ATTEMPT
        # rule O2: the process says how many viewer peers it holds
        assert f"proctor_live_viewers {float(rtc_server.viewers.count())}" in figures
    finally:
        for viewer in viewers:
            await viewer.close()
        await page.close()
        await rtc_server.rtc.close_attempt(attempt.attempt_id)


@pytest.fixture(scope="module")
async def stepped_server(rtc_settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[LiveServer]:
    """A web process whose clock the test steps (the viewers' connect deadline)."""
    live = await start_live_server(rtc_settings, clock=SteppedClock())
    yield live
    await live.stop()


async def test_a_reopened_panel_replaces_its_video_and_an_unused_answer_is_dropped(
    stepped_server: LiveServer, pool: asyncpg.Pool, rtc_settings: Settings, redis: Redis
) -> None:
    """An invigilator who opens and closes a tile quickly, again and again,
    must not fill the attempt's places with peers nobody uses (found by the
    HAProxy browser test): one live video per watcher, and a viewer peer not
    connected within CONNECT_WITHIN_S of its answer is closed."""
    room = await room_with_attempts(pool, rtc_settings, ["辰"])
    attempt = room.attempts[0]
    admin = await create_user(pool, "admin")
    clock = stepped_server.base.clock
    assert isinstance(clock, SteppedClock)
    enable_loopback_candidates()
    page = RTCPeerConnection()
    page.addTrack(FakeCamera())
    peers: list[RTCPeerConnection] = []
    held = stepped_server.viewers
    try:
        await offer_camera(page, stepped_server.url, attempt.pc_token, secrets.token_hex(8))
        keys = Keys(rtc_settings.redis_prefix)
        await wait_pc_camera_live(stepped_server, redis, keys, attempt.attempt_id)
        url = f"/api/invigilate/attempts/{attempt.attempt_id}/live-video"
        async with await client_for(stepped_server.url, pool, room.invigilator.id) as http:
            for _ in range(MAX_VIEWERS_PER_ATTEMPT + 2):  # the panel, opened six times
                viewer, offer = await _viewer_offer()
                peers.append(viewer)
                assert (await http.post(url, json=offer)).status_code == 200
                assert held.count(attempt.attempt_id) == 1  # the earlier one is closed
        async with await client_for(stepped_server.url, pool, admin.id) as http:
            viewer, offer = await _viewer_offer()
            peers.append(viewer)
            answered = await http.post(url, json=offer)
            assert answered.status_code == 200
            await viewer.setRemoteDescription(
                RTCSessionDescription(answered.json()["sdp"], "answer")
            )
            assert held.count(attempt.attempt_id) == 2

            async def admin_connected() -> bool:  # on both sides
                mine = [v for v in held.viewers[attempt.attempt_id] if v.watcher == str(admin.id)]
                return viewer.connectionState == mine[0].pc.connectionState == "connected"

            await eventually(admin_connected, within=20)
            watchers = [v.watcher for v in held.viewers.get(attempt.attempt_id, [])]
            assert sorted(watchers) == sorted([str(room.invigilator.id), str(admin.id)])
            # the invigilator's last answer was never used: past the deadline it
            # goes, while the admin's connected video stays. Two steps, each
            # shorter than the watch lease and each followed by its renewal, so
            # the attempt is watched all along.
            watch = f"/api/invigilate/attempts/{attempt.attempt_id}/watch"
            for _ in range(2):
                clock.advance(CONNECT_WITHIN_S / 2 + 1)
                assert (await http.post(watch, json={"watched": True})).is_success

            async def only_the_admins() -> bool:
                left = held.viewers.get(attempt.attempt_id, [])
                return [v.watcher for v in left] == [str(admin.id)]

            await eventually(only_the_admins, within=20)
    finally:
        for peer in peers:
            await peer.close()
        await page.close()
        await stepped_server.rtc.close_attempt(attempt.attempt_id)
