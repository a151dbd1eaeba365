"""The walking skeleton end to end on the real PostgreSQL, Redis and aiortc.

Demo candidate signs in → starts the mock attempt → PC and phone websockets
with signed tokens → heartbeats into the attempt's Redis stream → persistence
worker copies them to PostgreSQL → the PC's WebRTC video yields a stored JPEG.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection
from redis.asyncio import Redis

from exam_api.demo import demo_paper_id, seed_demo
from proctor.settings import Settings
from tests.support.live import LiveServer
from tests.support.rtc_peers import offer_camera
from tests.support.synthetic_video import SyntheticCameraTrack
from tests.support.users import login_cookies
from tests.support.waits import eventually


@pytest.fixture
async def started(server: LiveServer, pool: asyncpg.Pool) -> dict[str, Any]:
    async with pool.acquire() as conn:
        await seed_demo(conn)
        paper_id = await demo_paper_id(conn, "mock")
        user_id = await conn.fetchval("SELECT id FROM users WHERE username = 'demo_candidate'")
    # Rule A1's login (captcha + SMS) has its own tests: here a session is made directly.
    login = await login_cookies(pool, user_id)
    async with httpx.AsyncClient(base_url=server.url, cookies=login.cookies) as http:
        r = await http.post("/api/attempts", json={"paper_id": paper_id}, headers=login.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
    return body


async def test_healthz_and_readyz(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        r = await http.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ready", "checks": {"postgres": "ok", "redis": "ok"}}


async def test_heartbeats_reach_redis_and_postgres(
    started: dict[str, Any], redis: Redis, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule G1/G3: both devices' heartbeats are stored in Redis, then in PostgreSQL."""
    attempt_id = started["attempt_id"]
    async with (
        websockets.connect(started["ws_pc_url"]) as pc,
        websockets.connect(started["ws_phone_url"]) as phone,
    ):
        for ws, device in ((pc, "pc"), (phone, "phone")):
            # protocol v1 (docs/protocol.md): the client says hello, the hub welcomes
            await ws.send(json.dumps({"type": "hello", "v": 1, "last_seen": 0}))
            welcome = json.loads(await ws.recv())
            assert welcome["type"] == "welcome" and welcome["device"] == device
            await ws.send(json.dumps({"type": "heartbeat", "seq": 1}))
            while (message := json.loads(await ws.recv()))["type"] != "ack":
                pass  # state updates come and go
            assert message["seq"] == 1

    # in Redis: each device's stored seq and last heartbeat (the stream itself
    # is trimmed once PostgreSQL holds its entries, hub/trim.py)
    state = await redis.hgetall(f"{settings.redis_prefix}:{{att:{attempt_id}}}:state")
    for device in ("pc", "phone"):
        assert state[f"ack:{device}".encode()] == b"1" and f"hb:{device}".encode() in state

    async def persisted() -> set[str]:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT device FROM attempt_events WHERE attempt_id = $1 AND kind = 'heartbeat'",
                attempt_id,
            )
        got = {r["device"] for r in rows}
        return got if {"pc", "phone"} <= got else set()

    assert await eventually(persisted) == {"pc", "phone"}


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda t: t[:-1] + ("1" if t[-1] == "0" else "0"), 4401),  # forged: last digit changed
        (lambda t: "garbage", 4401),  # malformed
    ],
)
async def test_bad_token_is_refused_with_close_code(
    started: dict[str, Any], server: LiveServer, mutate: Any, code: int
) -> None:
    url = f"{server.ws_url}/ws/pc?token={mutate(started['pc_token'])}"
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    assert closed.value.rcvd.reason


async def test_token_for_other_device_is_refused(
    started: dict[str, Any], server: LiveServer
) -> None:
    url = f"{server.ws_url}/ws/phone?token={started['pc_token']}"
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_pc_video_yields_a_stored_jpeg(
    started: dict[str, Any], server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rule G2/E2: the server receives the PC's WebRTC video and keeps a JPEG frame."""
    attempt_id = started["attempt_id"]
    # The demo candidate's attempt is shared with earlier browser tests: their
    # page's camera peer must have stopped (no frames for 2 s) before a new
    # page may take over; a live one would rightly be kept (409 peer_exists).
    registry = server.rtc

    async def no_live_camera() -> bool:
        return registry.camera_state(attempt_id) != "live"

    await eventually(no_live_camera, within=15)
    peer = RTCPeerConnection()
    try:
        peer.addTrack(SyntheticCameraTrack())
        await offer_camera(peer, server.url, started["pc_token"])

        async def stored() -> asyncpg.Record | None:
            async with pool.acquire() as conn:
                return await conn.fetchrow(
                    "SELECT device, path, width, height, sha256 FROM snapshots"
                    " WHERE attempt_id = $1 AND device = 'pc' ORDER BY id LIMIT 1",
                    attempt_id,
                )

        row = await eventually(stored, within=20)
    finally:
        await peer.close()
    # snapshots.path is relative to the content-addressed store's root
    data = (settings.data_dir / "snapshots" / row["path"]).read_bytes()
    assert data[:3] == b"\xff\xd8\xff"  # a JPEG
    assert (row["width"], row["height"]) == (640, 480)
    import hashlib

    assert hashlib.sha256(data).hexdigest() == row["sha256"]


async def test_offer_with_bad_input_is_refused(started: dict[str, Any], server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post(
            "/api/rtc/offer", json={"token": started["pc_token"], "sdp": "hello", "type": "offer"}
        )
        assert r.status_code == 400 and r.json()["error"] == "bad_sdp"
        r = await http.post(
            "/api/rtc/offer", json={"token": started["phone_token"], "sdp": "v=0", "type": "offer"}
        )
        assert r.status_code == 403 and r.json()["error"] == "wrong_device"
        r = await http.post("/api/rtc/offer", content=b"{not json")
        assert r.status_code == 400 and r.json()["error"] == "bad_json"
