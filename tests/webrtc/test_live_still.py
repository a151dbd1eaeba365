"""The invigilator's live still from whichever process holds the PC peer
(rules H4, H8; ``webrtc/live_still.py``): two app instances sharing Redis and
PostgreSQL, a real aiortc PC camera peer on one, the invigilator's request on
the other."""

from __future__ import annotations

import secrets

import asyncpg
import cv2
import numpy as np
import pytest
from aiortc import RTCPeerConnection
from redis.asyncio import Redis

from hub.devices import Camera
from hub.fanout import envelope
from hub.keys import Keys
from proctor.settings import Settings
from tests.support.faces import picture_with_faces
from tests.support.invigilation import room_with_attempts
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.rtc_peers import FakeCamera, offer_camera
from tests.support.rtc_server import other_server, wait_pc_camera_live
from webrtc.errors import RtcError
from webrtc.live_still import RTC_STILL, decode_reply, encode_reply
from webrtc.loopback import enable_loopback_candidates

__all__ = ["other_server"]


def test_a_reply_carries_the_jpeg_or_the_holders_error() -> None:
    assert decode_reply(encode_reply(b"\xff\xd8jpeg")) == b"\xff\xd8jpeg"
    with pytest.raises(RtcError) as failed:
        decode_reply(encode_reply(None, RtcError("keyframe_timeout", "没有关键帧")))
    assert (failed.value.code, failed.value.message) == ("keyframe_timeout", "没有关键帧")
    assert failed.value.http_status == 504
    with pytest.raises(RtcError, match="电脑摄像头未连接"):
        decode_reply(encode_reply(None))
    with pytest.raises(RtcError) as garbled:  # hostile or corrupt: never taken for a picture
        decode_reply(b"GIF89a...")
    assert garbled.value.code == "bad_keyframe"


async def test_the_live_still_reaches_an_invigilator_on_another_process(
    rtc_server: LiveServer,
    other_server: LiveServer,
    pool: asyncpg.Pool,
    rtc_settings: Settings,
    redis: Redis,
) -> None:
    # rule H8: the PC peer on one process, the invigilator's request on another
    room = await room_with_attempts(pool, rtc_settings, ["癸"])
    attempt = room.attempts[0]
    enable_loopback_candidates()
    page = RTCPeerConnection()
    page.addTrack(FakeCamera(picture=picture_with_faces(1)))
    page.createDataChannel("control")
    holder, asker = rtc_server.rtc, other_server.rtc
    try:
        await offer_camera(page, rtc_server.url, attempt.pc_token, secrets.token_hex(8))

        keys = Keys(rtc_settings.redis_prefix)
        # the measured camera (rule H9) is what tells the asker a peer exists
        await wait_pc_camera_live(other_server, redis, keys, attempt.attempt_id)
        assert holder.holds(attempt.attempt_id) and not asker.holds(attempt.attempt_id)
        async with await client_for(other_server.url, pool, room.invigilator.id) as http:
            for _ in range(2):  # each still is fresh, each reply list is its own
                frame = await http.get(f"/api/invigilate/attempts/{attempt.attempt_id}/live.jpg")
                assert frame.status_code == 200, frame.text
                assert frame.headers["content-type"] == "image/jpeg"
                assert frame.headers["cache-control"] == "no-store"
                picture = cv2.imdecode(np.frombuffer(frame.content, np.uint8), cv2.IMREAD_COLOR)
                assert picture.shape == (480, 640, 3)
        # nothing left behind once popped (and what is never popped expires)
        leftover = [
            key async for key in redis.scan_iter(match=f"{keys.tag(attempt.attempt_id)}:reply:*")
        ]
        assert leftover == []
    finally:
        await page.close()
        await holder.close_attempt(attempt.attempt_id)


async def test_a_live_camera_whose_process_does_not_answer_is_a_clear_503(
    other_server: LiveServer, pool: asyncpg.Pool, rtc_settings: Settings, redis: Redis
) -> None:
    # the session says the PC camera is live, but no process holds its peer
    # (the one that did was killed): the asker waits a bounded time, then says so
    room = await room_with_attempts(pool, rtc_settings, ["子"])
    attempt = room.attempts[0]
    await other_server.hub.camera_measured(attempt.attempt_id, "pc", Camera.LIVE)
    # a hostile request on the channel (not a request id) is ignored by every process
    keys = Keys(rtc_settings.redis_prefix)
    await redis.publish(
        keys.channel(attempt.attempt_id), envelope((RTC_STILL, {"request": "../../etc"}))
    )
    async with await client_for(other_server.url, pool, room.invigilator.id) as http:
        frame = await http.get(f"/api/invigilate/attempts/{attempt.attempt_id}/live.jpg")
    assert frame.status_code == 503
    assert frame.json()["error"] == "live_still_timeout"
    assert "稍后再试" in frame.json()["message"]
