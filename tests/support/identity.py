"""Identity-test helpers (rules I1–I3): a server with the face check on, a
candidate whose approved request carries an ID photo uploaded through the
API, a running attempt, and a PC page (a real aiortc peer) showing a face."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from exam_api.assignments import assign
from hub.tokens import sign_device_token
from proctor.settings import IdentitySettings, Settings
from tests.support import real_faces
from tests.support.live import LiveServer, start_live_server
from tests.support.papers import candidate_with_request, class_with_papers
from tests.support.rtc_peers import FakeCamera
from tests.support.users import TestUser, create_user, login_cookies
from webrtc.loopback import enable_loopback_candidates


@pytest.fixture(scope="session")
def identity_settings(settings: Settings) -> Settings:
    # the face check on (rule I2); random snapshots every few seconds (rule I3)
    return dataclasses.replace(
        settings,
        identity=IdentitySettings(required=True, flag_after=2),
        # answers gated by the face check alone here (the camera gate has its own tests)
        require_live_cameras=False,
        snapshot_mean_interval_s=3.0,
        snapshot_min_gap_s=1.0,
    )


@pytest.fixture(scope="session")
async def identity_server(
    identity_settings: Settings, pool: asyncpg.Pool
) -> AsyncIterator[LiveServer]:
    live = await start_live_server(identity_settings)
    yield live
    await live.stop()


@dataclass(frozen=True)
class Sitting:
    """A candidate sitting an exam: their attempt, the room's invigilator, tokens."""

    candidate: TestUser
    invigilator: TestUser
    attempt_id: int
    question_ids: list[int]
    pc_token: str
    id_photo_id: int | None


async def client_for(server_url: str, pool: asyncpg.Pool, user_id: int) -> httpx.AsyncClient:
    """A signed-in client with a patient timeout: a face reading waits in the
    face pool's short queue behind the snapshots being scored."""
    login = await login_cookies(pool, user_id)
    return httpx.AsyncClient(
        base_url=server_url, cookies=login.cookies, headers=login.headers, timeout=60
    )


async def upload_id_photo(client: httpx.AsyncClient, picture: np.ndarray) -> httpx.Response:
    return await client.post(
        "/api/uploads/id-photo?name=证件照.jpg",
        content=real_faces.jpeg(picture),
        headers={"content-type": "application/octet-stream"},
    )


async def sitting(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings, id_photo: np.ndarray | None
) -> Sitting:
    """An approved candidate (with ``id_photo`` as their ID photo, None: none)
    with a running formal attempt in a room that has an invigilator."""
    candidate = await candidate_with_request(pool, "approved")
    photo_id = None
    if id_photo is not None:
        async with await client_for(server.url, pool, candidate.id) as client:
            response = await upload_id_photo(client, id_photo)
        assert response.status_code == 201, response.text
        photo_id = response.json()["id"]
        async with pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO exam_request_documents (request_id, role, upload_id)
                   SELECT id, 'id_photo', $2 FROM exam_requests WHERE user_id = $1""",
                candidate.id,
                photo_id,
            )
    papers = await class_with_papers(pool, [candidate.id])
    invigilator = await create_user(pool, "invigilator", real_name="监考员乙")
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await assign(conn, papers.class_id, invigilator.id)
        attempt_id: int = await conn.fetchval(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
               VALUES ($1, $2, $3, $4) RETURNING id""",
            candidate.id,
            papers.formal_id,
            now,
            now + timedelta(hours=1),
        )
    token = sign_device_token(settings.secret_key, attempt_id, "pc", time.time(), 3600)
    return Sitting(candidate, invigilator, attempt_id, papers.question_ids, token, photo_id)


async def pc_camera(server: LiveServer, pc_token: str, camera: FakeCamera) -> RTCPeerConnection:
    """A PC page's peer showing ``camera``, connected to ``server``'s ingest."""
    enable_loopback_candidates()
    pc = RTCPeerConnection()
    pc.addTrack(camera)
    channel = pc.createDataChannel("control")
    channel.on("message", lambda message: json.loads(message))
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/api/rtc/offer",
            json={
                "token": pc_token,
                "sdp": pc.localDescription.sdp,
                "type": "offer",
                "client_id": secrets.token_hex(8),
            },
        )
    assert response.status_code == 200, response.text
    await pc.setRemoteDescription(RTCSessionDescription(**response.json()))
    return pc


def face_camera(face: np.ndarray) -> FakeCamera:
    return FakeCamera(picture=real_faces.on_camera(face))
