"""The PC camera peer over the real HTTP signalling, aiortc on both ends,
real PostgreSQL and Redis: snapshots stored and linked, bad input refused."""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from redis.asyncio import Redis

import webrtc.snapshots
from hub import wall
from hub.captures import CaptureId
from hub.fanout import RTC, envelope
from hub.keys import Keys
from hub.wall import LEASE_S
from proctor.clock import SystemClock
from proctor.settings import Settings
from tests.support.components import started_hub
from tests.support.devices import send_photo
from tests.support.faces import jpeg_of, picture_with_faces
from tests.support.hub_client import DeviceClient
from tests.support.live import LiveServer
from tests.support.recorded import recorded
from tests.support.rtc_attempts import RtcAttempt, open_attempt
from tests.support.rtc_peers import FakeCamera
from tests.support.sdp import without_codec
from tests.support.users import create_user, login_cookies
from tests.support.waits import eventually
from webrtc.commands import request_watch
from webrtc.ingest import LEASE_CHECK_EVERY_S, AttemptMedia, PeerRegistry
from webrtc.loopback import enable_loopback_candidates
from webrtc.schedule import SnapshotSchedule


@dataclass
class PcPage:
    """A Python stand-in for the PC page: camera + control channel."""

    pc: RTCPeerConnection
    camera: FakeCamera
    client_id: str
    rates: list[int]


async def offer_sdp(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


async def post_offer(
    client: httpx.AsyncClient, token: str, sdp: str, client_id: str
) -> httpx.Response:
    return await client.post(
        "/api/rtc/offer", json={"token": token, "sdp": sdp, "type": "offer", "client_id": client_id}
    )


async def connect_page(client: httpx.AsyncClient, attempt: RtcAttempt, faces: int = 1) -> PcPage:
    enable_loopback_candidates()
    pc = RTCPeerConnection()
    camera = FakeCamera(picture=picture_with_faces(faces))
    pc.addTrack(camera)
    rates: list[int] = []
    channel = pc.createDataChannel("control")

    @channel.on("message")
    def on_message(message: str) -> None:
        data = json.loads(message)
        if data.get("type") == "rate":
            rates.append(data["max_framerate"])

    client_id = secrets.token_hex(8)
    response = await post_offer(client, attempt.pc_token, await offer_sdp(pc), client_id)
    assert response.status_code == 200, response.text
    await pc.setRemoteDescription(RTCSessionDescription(**response.json()))
    return PcPage(pc, camera, client_id, rates)


@pytest.fixture
async def client(rtc_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rtc_server.url, timeout=30) as c:
        yield c


def registry_of(server: LiveServer) -> PeerRegistry:
    registry: PeerRegistry = server.rtc
    return registry


async def snapshots(pool: asyncpg.Pool, attempt_id: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT * FROM snapshots WHERE attempt_id = $1 ORDER BY id", attempt_id
        )


async def test_start_random_and_violation_snapshots_with_the_phone_photo(
    rtc_server: LiveServer,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    rtc_settings: Settings,
) -> None:
    attempt = await open_attempt(pool, rtc_settings)
    pc = await DeviceClient.connect(rtc_server.ws_url, "pc", attempt.pc_token)
    phone = await DeviceClient.connect(rtc_server.ws_url, "phone", attempt.phone_token)
    page = await connect_page(client, attempt)
    registry = registry_of(rtc_server)
    try:
        # rule E2: a start snapshot as soon as the camera is live, then random ones
        async def pc_reasons() -> set[str]:
            rows = await snapshots(pool, attempt.id)
            return {r["reason"] for r in rows if r["device"] == "pc"} >= {"start", "random"} and {
                r["reason"] for r in rows
            }

        await eventually(pc_reasons, within=30)
        # the page was asked for its low frame rate while nobody watches
        assert page.rates[:1] == [3]
        registry.set_watched(attempt.id, True)
        await eventually(lambda: _async(page.rates[-1:] == [15]))

        # rule H10: a violation's dual snapshot is ordered by the commit that
        # counts it: the phone is asked, the PC frame is taken by the peer's process
        assert (await pc.call("click_outside"))["type"] == "ack"
        capture = await phone.wait_for("capture", reason="violation")
        reply = await send_photo(phone, capture["request_id"], jpeg_of(picture_with_faces(2)))
        assert reply["type"] == "ack", reply

        # both images on disk, linked by capture id and violation index, face flags (H6)
        async def pair() -> list[asyncpg.Record]:
            rows = [r for r in await snapshots(pool, attempt.id) if r["violation_idx"] == 1]
            return rows if len(rows) == 2 and all(r["faces"] is not None for r in rows) else []

        rows = await eventually(pair, within=15)
        by_device = {r["device"]: r for r in rows}
        assert by_device["pc"]["capture_id"] == by_device["phone"]["capture_id"]
        assert by_device["pc"]["reason"] == by_device["phone"]["reason"] == "violation"
        assert by_device["pc"]["faces"] == 1
        assert by_device["phone"]["faces"] == 2
        assert (by_device["pc"]["width"], by_device["pc"]["height"]) == (640, 480)
        root = rtc_settings.data_dir / "snapshots"
        for row in rows:
            path = root / row["path"]
            assert path.read_bytes()[:3] == b"\xff\xd8\xff"
            assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{64}\.jpg", row["path"])
    finally:
        await page.pc.close()
        await pc.close()
        await phone.close()


async def _async(value: bool) -> bool:
    return value


async def test_camera_loss_is_recorded_in_the_attempt_stream(
    rtc_server: LiveServer,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    redis: Redis,
    rtc_settings: Settings,
) -> None:
    # rules D1/H2/H9: the hub learns the PC camera state the ingest measures
    # (live, then lost), recorded in the session's own stream
    attempt = await open_attempt(pool, rtc_settings)
    page = await connect_page(client, attempt)
    registry = registry_of(rtc_server)
    await eventually(lambda: _async(registry.camera_state(attempt.id) == "live"))
    await page.pc.close()
    await eventually(lambda: _async(registry.camera_state(attempt.id) in (None, "ended")))

    async def states() -> list[str]:
        # the record in PostgreSQL: the stream is trimmed once it is there
        entries = await recorded(pool, attempt.id)
        data = [e.data for e in entries if e.kind == "camera"]
        out = [d["state"] for d in data if d.get("source") == "measured"]
        return out if out and out[-1] == "lost" else []

    seen = await eventually(states)
    assert seen[0] == "live"


async def test_second_page_is_refused_and_the_first_peer_is_untouched(
    rtc_server: LiveServer, client: httpx.AsyncClient, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    attempt = await open_attempt(pool, rtc_settings)
    page = await connect_page(client, attempt)
    registry = registry_of(rtc_server)
    await eventually(lambda: _async(registry.camera_state(attempt.id) == "live"))
    first = registry.peers[attempt.id]
    other = RTCPeerConnection()
    other.addTrack(FakeCamera())
    try:
        response = await post_offer(
            client, attempt.pc_token, await offer_sdp(other), secrets.token_hex(8)
        )
        assert response.status_code == 409
        assert response.json()["error"] == "peer_exists"
        assert registry.peers[attempt.id] is first
        assert registry.camera_state(attempt.id) == "live"
        # the same page reconnecting (same client id) replaces its own peer
        again = RTCPeerConnection()
        again.addTrack(FakeCamera())
        response = await post_offer(
            client, attempt.pc_token, await offer_sdp(again), page.client_id
        )
        assert response.status_code == 200, response.text
        await again.setRemoteDescription(RTCSessionDescription(**response.json()))
        assert registry.peers[attempt.id] is not first
        await eventually(lambda: _async(registry.camera_state(attempt.id) == "live"))
        await again.close()
    finally:
        await other.close()
        await page.pc.close()


async def test_bad_offers_get_clear_errors_and_change_nothing(
    rtc_server: LiveServer, client: httpx.AsyncClient, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    attempt = await open_attempt(pool, rtc_settings)
    registry = registry_of(rtc_server)
    camera_pc = RTCPeerConnection()
    camera_pc.addTrack(FakeCamera())
    good_sdp = await offer_sdp(camera_pc)
    data_pc = RTCPeerConnection()
    data_pc.createDataChannel("control")
    no_video_sdp = await offer_sdp(data_pc)
    cases = [
        ("this is not sdp", 400, "bad_sdp"),
        ("v=0\r\nm=video garbage\r\n", 400, "bad_sdp"),
        (no_video_sdp, 400, "no_video"),
        (without_codec(good_sdp, "VP8"), 415, "codec_not_accepted"),
    ]
    try:
        for sdp, status, code in cases:
            response = await post_offer(client, attempt.pc_token, sdp, secrets.token_hex(8))
            assert (response.status_code, response.json()["error"]) == (status, code), sdp[:80]
        # a phone token cannot open the PC camera
        response = await post_offer(client, attempt.phone_token, good_sdp, secrets.token_hex(8))
        assert response.status_code == 403
        response = await post_offer(client, "nonsense", good_sdp, secrets.token_hex(8))
        assert response.status_code == 401
        assert attempt.id not in registry.peers
        assert attempt.id not in registry.media
        assert await snapshots(pool, attempt.id) == []
    finally:
        await camera_pc.close()
        await data_pc.close()


async def test_snapshot_listing_and_audited_deletion(
    rtc_server: LiveServer, client: httpx.AsyncClient, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    attempt = await open_attempt(pool, rtc_settings)
    picture = picture_with_faces(0)
    picture[:8, :8] = list(secrets.token_bytes(3))  # a file no other test shares
    photo = jpeg_of(picture)
    phone = await DeviceClient.connect(rtc_server.ws_url, "phone", attempt.phone_token)
    try:  # rule D4: the phone's start takes a photo at once
        assert (await phone.call("phone_start"))["type"] == "ack"
        capture = await phone.wait_for("capture", reason="start")
        assert (await send_photo(phone, capture["request_id"], photo))["type"] == "ack"
    finally:
        await phone.close()
    reviewer = await create_user(pool, role="reviewer")
    login = await login_cookies(pool, reviewer.id)
    client.cookies.update(login.cookies)

    async def flagged() -> list[dict[str, object]]:
        listing = (await client.get(f"/api/rtc/attempts/{attempt.id}/snapshots")).json()
        return [s for s in listing["snapshots"] if s["face_flag"] != "unknown"]

    (shot,) = await eventually(flagged)
    assert shot["face_flag"] == "none" and shot["reason"] == "start"
    image = await client.get(str(shot["image_url"]))
    assert image.status_code == 200 and image.content == photo

    # only an administrator may delete, and must give a reason
    denied = await client.request(
        "DELETE",
        f"/api/rtc/attempts/{attempt.id}/evidence",
        json={"reason": "x"},
        headers=login.headers,
    )
    assert denied.status_code == 403
    admin = await create_user(pool, role="admin")
    admin_login = await login_cookies(pool, admin.id)
    client.cookies.clear()
    client.cookies.update(admin_login.cookies)
    no_reason = await client.request(
        "DELETE", f"/api/rtc/attempts/{attempt.id}/evidence", json={}, headers=admin_login.headers
    )
    assert no_reason.status_code == 400
    done = await client.request(
        "DELETE",
        f"/api/rtc/attempts/{attempt.id}/evidence",
        json={"reason": "考生申请删除（工单 42）"},
        headers=admin_login.headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["deleted"] == {"snapshots": 1, "recordings": 0, "files": 1}
    assert await snapshots(pool, attempt.id) == []
    async with pool.acquire() as conn:
        audit = await conn.fetchrow(
            "SELECT * FROM evidence_deletions WHERE attempt_id = $1", attempt.id
        )
    assert audit["kind"] == "admin" and audit["deleted_by"] == admin.id
    assert audit["reason"] == "考生申请删除（工单 42）"
    root: Path = rtc_settings.data_dir / "snapshots"
    assert not (root / shot_path(photo)).exists()
    client.cookies.clear()


def shot_path(data: bytes) -> str:
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    return f"{digest[:2]}/{digest}.jpg"


async def test_pending_work_never_outlives_the_attempt(
    rtc_server: LiveServer, client: httpx.AsyncClient, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    attempt = await open_attempt(pool, rtc_settings)
    page = await connect_page(client, attempt)
    registry = registry_of(rtc_server)
    try:
        await eventually(lambda: _async(registry.camera_state(attempt.id) == "live"))
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE attempts SET status = 'ended', ended_at = now() WHERE id = $1", attempt.id
            )
        # the monitor notices the ended attempt and lets the peer go
        await eventually(lambda: _async(attempt.id not in registry.media), within=20)
        assert attempt.id not in registry.peers
        assert registry.snapshot_now(attempt.id, "random") is None
    finally:
        await page.pc.close()
    await asyncio.sleep(0)


async def test_a_capture_in_flight_delays_the_close_but_never_stops_it(
    rtc_server: LiveServer, client: httpx.AsyncClient, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    # a capture being taken when the check finds the attempt ended keeps the
    # peer only until it is done, and no new random capture starts meanwhile
    # (under load the schedule could otherwise keep one in flight at every check)
    attempt = await open_attempt(pool, rtc_settings)
    page = await connect_page(client, attempt)
    registry = registry_of(rtc_server)
    try:
        await eventually(lambda: _async(registry.camera_state(attempt.id) == "live"))
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE attempts SET status = 'ended', ended_at = now() WHERE id = $1", attempt.id
            )
        await eventually(lambda: _async(registry.snapshot_now(attempt.id, "random") is not None))
        await registry.tick(time.monotonic() + 3600)  # the attempt check is due
        assert registry.snapshot_now(attempt.id, "random") is None
        await eventually(lambda: _async(attempt.id not in registry.media), within=20)
        assert attempt.id not in registry.peers
    finally:
        await page.pc.close()
    await asyncio.sleep(0)


async def test_a_flooding_phone_hits_the_per_attempt_limit(
    rtc_server: LiveServer,
    pool: asyncpg.Pool,
    rtc_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webrtc.snapshots, "MAX_SNAPSHOTS_PER_ATTEMPT", 2)
    attempt = await open_attempt(pool, rtc_settings)
    phone = await DeviceClient.connect(rtc_server.ws_url, "phone", attempt.phone_token)
    try:
        assert (await phone.call("phone_start"))["type"] == "ack"
        replies = []
        for i in range(3):
            if i:
                assert (await phone.call("page_return"))["type"] == "ack"  # rule D4
            capture = await phone.wait_for("capture")
            photo = jpeg_of(picture_with_faces(i % 2))
            replies.append(await send_photo(phone, capture["request_id"], photo))
    finally:
        await phone.close()
    assert [r["type"] for r in replies] == ["ack", "ack", "error"]
    assert replies[2]["code"] == "too_many_photos"
    assert len(await snapshots(pool, attempt.id)) == 2


async def test_commands_from_any_process_reach_the_peer(
    rtc_server: LiveServer,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    redis: Redis,
    rtc_settings: Settings,
) -> None:
    # rule H8: the violation may be noticed by another hub process than the
    # one holding the PC peer; the request travels over the attempt's channel
    attempt = await open_attempt(pool, rtc_settings)
    keys = Keys(rtc_settings.redis_prefix)
    page = await connect_page(client, attempt)
    registry = registry_of(rtc_server)
    try:
        await eventually(lambda: _async(registry.camera_state(attempt.id) == "live"))
        # an invigilator's lease first, as the HTTP watch takes it (rule H4)
        await wall.hold(redis, keys, attempt.id, "invigilator", time.time())
        await request_watch(redis, keys, attempt.id, True)
        await eventually(lambda: _async(page.rates[-1:] == [15]))
        # a violation's snapshot ordered by a commit on another process
        capture = CaptureId.new(attempt.id, "violation", time.time(), violation=1)
        await redis.publish(
            keys.channel(attempt.id),
            envelope((RTC, {"type": "rtc.snapshot", "capture_id": str(capture)})),
        )

        async def violation() -> list[asyncpg.Record]:
            return [r for r in await snapshots(pool, attempt.id) if r["reason"] == "violation"]

        (row,) = await eventually(violation, within=15)
        assert row["device"] == "pc"
        await request_watch(redis, keys, attempt.id, False)
        await eventually(lambda: _async(page.rates[-1:] == [3]))
    finally:
        await page.pc.close()


async def test_a_lapsed_watch_lease_drops_the_frame_rate(
    pool: asyncpg.Pool, redis: Redis, rtc_settings: Settings
) -> None:
    # rule H4: the watcher's browser vanished without releasing its lease;
    # once the lease lapses a tick of the ingest drops the page to the low rate
    attempt = await open_attempt(pool, rtc_settings)
    keys = Keys(f"t{secrets.token_hex(4)}")
    async with started_hub(rtc_settings, pool, redis, keys=keys) as parts:
        registry = PeerRegistry(
            settings=rtc_settings,
            pool=pool,
            redis=redis,
            keys=keys,
            router=parts.router,
            sessions=parts.hub,
            snapshots=parts.snapshots,
            clock=SystemClock(),
        )
        await _lapsed_lease_drops_the_rate(registry, redis, keys, attempt.id)


async def _lapsed_lease_drops_the_rate(
    registry: PeerRegistry, redis: Redis, keys: Keys, attempt_id: int
) -> None:
    class attempt:
        id = attempt_id

    registry.media[attempt_id] = AttemptMedia(SnapshotSchedule(random.Random(1), 45.0, 10.0))
    t0 = 1_800_000_000.0  # the leases' clock, passed in
    assert await wall.hold(redis, keys, attempt_id, "crashed", t0)
    registry.set_watched(attempt_id, True)
    await registry.tick(100.0, wall_now=t0 + LEASE_S - 1)
    assert registry.media[attempt_id].watched  # the lease still holds
    await registry.tick(100.0 + LEASE_CHECK_EVERY_S, wall_now=t0 + LEASE_S + 1)
    assert not registry.media[attempt_id].watched
    # a watcher coming back takes a fresh lease and asks for the full rate again
    assert await wall.hold(redis, keys, attempt_id, "back", t0 + LEASE_S + 2)
    registry.set_watched(attempt_id, True)
    await registry.tick(100.0 + 2 * LEASE_CHECK_EVERY_S, wall_now=t0 + LEASE_S + 3)
    assert registry.media[attempt_id].watched
