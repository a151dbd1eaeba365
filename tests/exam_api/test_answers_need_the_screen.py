"""Rule J1 on the answer API, against a hostile client: with both cameras
live as measured, a PC that sends no screen share — or a page that only
says it shares — cannot answer; once its screen's frames arrive, it can."""

from __future__ import annotations

import json
import secrets
import time

import asyncpg
from aiortc import RTCPeerConnection

from hub.session import Session
from tests.support.devices import http_url, phone_proves_camera
from tests.support.faces import picture_with_faces
from tests.support.hub_client import DeviceClient
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, class_with_papers, client_for
from tests.support.rtc_peers import FakeCamera, FakeScreen, offer_camera
from tests.support.waits import eventually


async def test_no_answer_without_the_measured_screen(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    user = await candidate_with_request(pool)
    papers = await class_with_papers(pool, [user.id])
    async with await client_for(server.url, pool, user.id) as http:
        start = (await http.post("/api/attempts", json={"paper_id": papers.mock_id})).json()
        url = f"/api/attempts/{start['attempt_id']}/answers/{papers.question_ids[0]}"
        pc = await DeviceClient.connect(server.ws_url, "pc", start["pc_token"])
        phone = await DeviceClient.connect(server.ws_url, "phone", start["phone_token"])
        client_id = secrets.token_hex(8)
        camera_only = RTCPeerConnection()
        camera_only.addTrack(FakeCamera(picture=picture_with_faces(1)))
        control = camera_only.createDataChannel("control")
        with_screen = RTCPeerConnection()
        try:
            await phone_proves_camera(phone)
            await offer_camera(camera_only, http_url(server.ws_url), start["pc_token"], client_id)
            await pc.wait_for("state", can_answer=False)

            async def cameras_live() -> bool:
                loaded = await server.hub.store.load(start["attempt_id"])
                if not loaded.state:
                    return False
                session = Session.from_dict(json.loads(loaded.state))
                return session.cameras_live_without_screen(time.time())

            await eventually(cameras_live, within=30)
            # the page says it shares; the server saw no second video
            await eventually(lambda: _open(control))
            control.send(json.dumps({"type": "screen", "state": "live"}))
            refused = await http.put(url, json={"answer": "A"})
            assert (refused.status_code, refused.json()["error"]) == (409, "cameras_not_live")
            assert "整个屏幕" in refused.json()["message"]

            # the same page offers again, now with its whole screen (rule J1)
            with_screen.addTrack(FakeCamera(picture=picture_with_faces(1)))
            with_screen.addTrack(FakeScreen())
            await offer_camera(with_screen, http_url(server.ws_url), start["pc_token"], client_id)
            await pc.wait_for("state", can_answer=True)
            assert (await http.put(url, json={"answer": "A"})).status_code == 200
        finally:
            await camera_only.close()
            await with_screen.close()
            await pc.close()
            await phone.close()


async def _open(channel: object) -> bool:
    return getattr(channel, "readyState", None) == "open"
