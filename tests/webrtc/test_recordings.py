"""The recording end to end (rule K1): a PC page's camera and screen over
real aiortc peers and the live server's signalling, segments stored and
linked in PostgreSQL when the peer goes, listed and played with HTTP Range
by a reviewer, refused to a candidate."""

from __future__ import annotations

import io
import secrets
from collections.abc import AsyncIterator

import asyncpg
import av
import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from proctor.settings import Settings
from tests.support.faces import picture_with_faces
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.rtc_attempts import open_attempt
from tests.support.rtc_peers import FakeCamera, FakeScreen
from tests.support.users import create_user
from tests.support.waits import eventually
from webrtc.loopback import enable_loopback_candidates
from webrtc.recordings import MAX_CHUNK, parse_range


@pytest.fixture
async def client(rtc_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rtc_server.url, timeout=30) as c:
        yield c


async def segments(pool: asyncpg.Pool, attempt_id: int) -> dict[str, asyncpg.Record]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM recording_segments WHERE attempt_id = $1 ORDER BY id", attempt_id
        )
    return {r["track"]: r for r in rows}


async def test_camera_and_screen_are_recorded_and_play_for_a_reviewer(
    rtc_server: LiveServer, client: httpx.AsyncClient, pool: asyncpg.Pool, rtc_settings: Settings
) -> None:
    attempt = await open_attempt(pool, rtc_settings)
    enable_loopback_candidates()
    pc = RTCPeerConnection()
    camera = FakeCamera(picture=picture_with_faces(1))
    pc.addTrack(camera)
    pc.addTrack(FakeScreen())
    await pc.setLocalDescription(await pc.createOffer())
    body = {
        "token": attempt.pc_token,
        "sdp": pc.localDescription.sdp,
        "type": "offer",
        "client_id": secrets.token_hex(8),
    }
    answer = await client.post("/api/rtc/offer", json=body)
    assert answer.status_code == 200, answer.text
    await pc.setRemoteDescription(RTCSessionDescription(**answer.json()))
    registry = rtc_server.rtc

    async def recorded_some() -> bool:
        peer = registry.peers.get(attempt.id)
        return (
            peer is not None
            and peer.tap is not None
            and peer.tap.frames_seen > 20
            and peer.screen is not None
            and peer.screen.tap.frames_seen > 3
        )

    await eventually(recorded_some, within=30)
    await pc.close()  # the peer goes: its segments close and are stored
    rows = await eventually(lambda: _both(segments(pool, attempt.id)), within=30)
    assert (rows["camera"]["width"], rows["camera"]["height"]) == (640, 480)
    assert (rows["screen"]["width"], rows["screen"]["height"]) == (1280, 720)
    for row in rows.values():
        path = rtc_settings.data_dir / row["path"]
        assert path.stat().st_size == row["size_bytes"] > 0  # local disk, the default

    reviewer = await create_user(pool, "reviewer")
    async with await client_for(rtc_server.url, pool, reviewer.id) as http:
        listed = (await http.get(f"/api/attempts/{attempt.id}/recording")).json()
        by_track = {s["track"]: s for s in listed["segments"]}
        assert set(by_track) == {"camera", "screen"}
        camera_segment = by_track["camera"]
        assert camera_segment["end_t"] > camera_segment["start_t"]
        # the player's requests: a Range from 0, then the rest
        head = await http.get(camera_segment["url"], headers={"Range": "bytes=0-99"})
        assert head.status_code == 206
        size = rows["camera"]["size_bytes"]
        assert head.headers["content-range"] == f"bytes 0-99/{size}"
        assert head.headers["content-type"] == "video/webm"
        assert head.content[:4] == b"\x1aE\xdf\xa3"  # EBML: a WebM file
        rest = await http.get(camera_segment["url"], headers={"Range": "bytes=100-"})
        whole = head.content + rest.content
        assert len(whole) == size
        with av.open(io.BytesIO(whole)) as container:  # it plays: every frame decodes
            assert sum(1 for _ in container.decode(video=0)) == rows["camera"]["frames"]
        beyond = await http.get(camera_segment["url"], headers={"Range": f"bytes={size}-"})
        assert beyond.status_code == 416
    candidate = await client_for(rtc_server.url, pool, attempt.user_id)
    async with candidate:
        assert (await candidate.get(camera_segment["url"])).status_code == 403
        assert (await candidate.get(f"/api/attempts/{attempt.id}/recording")).status_code == 403


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-", 10, (0, 9)),
        ("bytes=2-4", 10, (2, 4)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=5-100", 10, (5, 9)),
        ("bytes=0-", 10 * MAX_CHUNK, (0, MAX_CHUNK - 1)),  # bounded replies
    ],
)
def test_ranges(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=5-2", "bytes=-", "items=0-1", "bytes=a-b"])
def test_bad_ranges_are_refused(header: str) -> None:
    from webrtc.errors import RtcError

    with pytest.raises(RtcError) as refused:
        parse_range(header, 10)
    assert refused.value.http_status == 416


async def _both(rows: object) -> dict[str, asyncpg.Record]:
    found: dict[str, asyncpg.Record] = await rows  # type: ignore[misc]
    return found if set(found) == {"camera", "screen"} else {}
