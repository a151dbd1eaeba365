"""Measured, not claimed (rule H9, D1 against a hostile client): a scripted
client that opens both websockets and says "camera live" on each, without
ever offering video or sending a photo, cannot answer, and the invigilators'
wall shows it without cameras."""

from __future__ import annotations

import json

import asyncpg

from hub.session import Session
from tests.support.devices import Devices, pc_camera, phone_proves_camera, send_photo
from tests.support.hub_client import DeviceClient
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers, client_for
from tests.support.users import create_user


async def _start(server: LiveServer, pool: asyncpg.Pool) -> tuple[int, dict, str]:
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        start = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
    url = f"/api/attempts/{start['attempt_id']}/answers/{papers.question_ids[0]}"
    return user.id, start, url


async def _wall_tile(server: LiveServer, pool: asyncpg.Pool, attempt_id: int) -> dict:
    admin = await create_user(pool, "admin")
    async with await client_for(server.url, pool, admin.id) as http:
        reply = await http.get("/api/invigilate/sessions")
    assert reply.status_code == 200, reply.text
    tiles = {t["attempt_id"]: t for t in reply.json()["sessions"]}
    return tiles[attempt_id]


async def test_cameras_claimed_without_video_cannot_answer(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule H9: "live" on both sockets, no WebRTC offer, no photo
    user_id, start, url = await _start(server, pool)
    pc = await DeviceClient.connect(server.ws_url, "pc", start["pc_token"])
    phone = await DeviceClient.connect(server.ws_url, "phone", start["phone_token"])
    try:
        for device in (pc, phone):
            assert (await device.call("camera", state="live"))["type"] == "ack"
        state = await pc.wait_for("state")
        assert state["can_answer"] is False
        assert state["devices"]["pc"]["camera"] != "live"
        assert state["devices"]["phone"]["camera"] != "live"
        async with await client_for(server.url, pool, user_id) as http:
            r = await http.put(url, json={"answer": "A"})
        assert (r.status_code, r.json()["error"]) == (409, "cameras_not_live")
        tile = await _wall_tile(server, pool, start["attempt_id"])
        assert tile["cameras"]["pc"]["camera"] != "live"  # the wall shows no PC video
        assert tile["cameras"]["phone"]["camera"] != "live"
    finally:
        await pc.close()
        await phone.close()


async def test_a_real_phone_photo_does_not_vouch_for_a_claimed_pc_camera(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    # the phone proves its camera with a photo; the PC only claims: still refused
    user_id, start, url = await _start(server, pool)
    pc = await DeviceClient.connect(server.ws_url, "pc", start["pc_token"])
    phone = await DeviceClient.connect(server.ws_url, "phone", start["phone_token"])
    try:
        assert (await pc.call("camera", state="live"))["type"] == "ack"
        assert (await phone_proves_camera(phone))["type"] == "ack"
        state = await phone.wait_for("state")
        while state["devices"]["phone"]["camera"] != "live":
            state = await phone.wait_for("state")
        assert state["devices"]["pc"]["camera"] != "live" and state["can_answer"] is False
        async with await client_for(server.url, pool, user_id) as http:
            r = await http.put(url, json={"answer": "A"})
            assert (r.status_code, r.json()["error"]) == (409, "cameras_not_live")
            # real video from the PC: measured live, the answer goes through
            peer = await pc_camera(server.ws_url, start["pc_token"])
            try:
                await pc.wait_for("state", can_answer=True)
                assert (await http.put(url, json={"answer": "A"})).status_code == 200
            finally:
                await peer.close()
    finally:
        await pc.close()
        await phone.close()


async def test_a_phone_that_stops_answering_captures_is_not_live(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rule H9: the phone camera is live while its photos answer capture requests
    # in time; one left unanswered past the rules' capture_answer_s is not
    _, start, _ = await _start(server, pool)
    _, phone = await devices.live(server.ws_url, start)
    rules = server.hub.rules
    hub = server.hub
    # the PC camera's first frame took a start snapshot: its phone half
    start_capture = await phone.wait_for("capture", reason="start")
    assert (await send_photo(phone, start_capture["request_id"]))["type"] == "ack"
    now = hub.clock.now()
    await hub.request_capture(
        start["attempt_id"], f"{start['attempt_id']}.random.{int(now * 1000)}"
    )
    await phone.wait_for("capture", reason="random")

    async def session() -> Session:
        return Session.from_dict(json.loads((await hub.store.load(start["attempt_id"])).state))

    # the request is open: live now, lost once it has waited too long
    assert (await session()).cameras_live(now + 1)
    assert not (await session()).cameras_live(now + rules.capture_answer_s + 1)
    # the photo arrives: live again
    capture = max(int(k) for k in (await session()).captures)
    assert (await send_photo(phone, capture))["type"] == "ack"
    assert (await session()).cameras_live(now + rules.capture_answer_s + 1)
