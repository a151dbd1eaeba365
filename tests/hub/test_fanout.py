"""One envelope on an attempt's channel and one channel router per process
for the hub and the WebRTC ingest (rule H8): each item reaches the handler
of its ``to``, a normal dual-camera exam publishes nothing the router cannot
read, and every reader still gets its messages."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
from typing import Any

import asyncpg
import pytest
import websockets
from aiortc import RTCPeerConnection
from PIL import Image
from redis.asyncio import Redis

from hub.fanout import KICK, RTC, WATCHERS, ChannelRouter, envelope, unpack
from hub.keys import Keys
from hub.protocol import encode_photo
from proctor.settings import Settings
from tests.support.hub_client import DeviceClient
from tests.support.invigilation import room_with_attempts
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.rtc_peers import FakeCamera, offer_camera
from tests.support.rtc_server import rtc_server, rtc_settings
from tests.support.users import login_cookies
from tests.support.waits import eventually
from webrtc.ingest import HIGH_FPS, PeerRegistry
from webrtc.loopback import enable_loopback_candidates

__all__ = ["rtc_server", "rtc_settings"]

WAIT_S = 20.0  # a wait for a message, never a timing assertion


def test_each_item_reaches_the_handler_of_its_target_only() -> None:
    router = ChannelRouter(Redis(), Keys("t"))  # dispatch needs no connection
    got: dict[str, list[tuple[int, list[str]]]] = {"hub": [], "rtc": []}
    router.route(
        (WATCHERS, "pc", KICK), lambda a, items: got["hub"].append((a, [i["to"] for i in items]))
    )
    router.route((RTC,), lambda a, items: got["rtc"].append((a, [i["m"]["type"] for i in items])))
    text = envelope(
        (WATCHERS, {"type": "snapshot"}),
        (RTC, {"type": "rtc.snapshot", "capture_id": "7.violation.1.1"}),
        ("pc", {"type": "violation"}),
        ("nobody", {"type": "x"}),  # a target without a handler is skipped
    )
    items = unpack(text)
    assert items is not None
    router.dispatch(7, items)
    assert got == {"hub": [(7, [WATCHERS, "pc"])], "rtc": [(7, ["rtc.snapshot"])]}
    with pytest.raises(ValueError):
        router.route((RTC,), lambda a, items: None)  # one owner per target
    # a bare object is no envelope
    assert unpack(json.dumps({"type": "camera"})) is None


async def _recv(ws: websockets.ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    return message


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(out, "JPEG")
    return out.getvalue()


async def test_a_dual_camera_exam_logs_no_fanout_error(
    rtc_server: LiveServer,
    pool: asyncpg.Pool,
    rtc_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # rules E2, H4, H8: the camera peer's snapshots, camera states and watch
    # commands share the channel with the hub's own messages
    caplog.set_level(logging.WARNING, logger="hub.fanout")
    # one pub/sub connection for the whole process (the router's)
    room = await room_with_attempts(pool, rtc_settings, ["子"])
    attempt = room.attempts[0]
    registry: PeerRegistry = rtc_server.rtc
    login = await login_cookies(pool, room.invigilator.id)
    cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
    watch_url = f"{rtc_server.ws_url}/ws/watch?attempt={attempt.attempt_id}"
    pc = await DeviceClient.connect(rtc_server.ws_url, "pc", attempt.pc_token)
    phone = await DeviceClient.connect(rtc_server.ws_url, "phone", attempt.phone_token)
    enable_loopback_candidates()
    page = RTCPeerConnection()
    page.addTrack(FakeCamera())
    rates: list[int] = []
    channel = page.createDataChannel("control")

    @channel.on("message")
    def on_message(message: str) -> None:
        data = json.loads(message)
        if data.get("type") == "rate":
            rates.append(data["max_framerate"])

    try:
        async with websockets.connect(watch_url, additional_headers={"Cookie": cookie}) as watch:
            assert (await _recv(watch))["type"] == "state"
            await offer_camera(page, rtc_server.url, attempt.pc_token, secrets.token_hex(8))
            # the start snapshot (rule E2): the phone is asked over its socket …
            capture = await phone.wait_for("capture", reason="start")
            phone.seq += 1
            await phone.ws.send(encode_photo(phone.seq, capture["request_id"], _jpeg()))
            assert (await phone.wait_for("ack", seq=phone.seq))["type"] == "ack"
            # … and the watching invigilator hears of the camera and the snapshot
            seen: set[str] = set()
            while not {"camera", "snapshot"} <= seen:
                seen.add((await _recv(watch))["type"])
            # a watch command reaches the peer's process: the page's rate goes up
            async with await client_for(rtc_server.url, pool, room.invigilator.id) as http:
                path = f"/api/invigilate/attempts/{attempt.attempt_id}/watch"
                assert (await http.post(path, json={"watched": True})).status_code == 200

                async def raised() -> bool:
                    return bool(rates) and rates[-1] == HIGH_FPS

                await eventually(raised, within=15)
                assert (await http.post(path, json={"watched": False})).status_code == 200
            # the hub's own messages still flow: a violation reaches the watcher
            assert (await pc.call("click_outside"))["type"] == "ack"
            while (await _recv(watch))["type"] != "violation":
                pass
    finally:
        await page.close()
        await pc.close()
        await phone.close()
        await registry.close_attempt(attempt.attempt_id)
    errors = [r for r in caplog.records if r.name == "hub.fanout" and r.levelno >= logging.ERROR]
    assert errors == []
