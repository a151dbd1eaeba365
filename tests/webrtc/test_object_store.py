"""Evidence on an S3-compatible object store (rule K2), over HTTP against
moto's standalone server with the real boto3 client: the store's interface,
and the live server configured with PROCTOR_S3_* putting a real attempt's
snapshots and recording there — not on local disk — and serving them back."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from proctor.evidence_settings import ObjectStoreSettings
from proctor.settings import Settings
from tests.support.faces import picture_with_faces
from tests.support.live import LiveServer, start_live_server
from tests.support.papers import client_for
from tests.support.rtc_attempts import open_attempt
from tests.support.rtc_peers import FakeCamera, FakeScreen
from tests.support.s3_server import S3Server, s3_server
from tests.support.users import create_user
from tests.support.waits import eventually
from webrtc.loopback import enable_loopback_candidates
from webrtc.object_store import ObjectSnapshotStore, S3ObjectStore

__all__ = ["s3_server"]


def bucket(server: S3Server) -> str:
    name = f"evidence-{secrets.token_hex(4)}"
    client: Any = server.client()
    client.create_bucket(Bucket=name)
    return name


def store_of(server: S3Server, name: str, prefix: str = "") -> S3ObjectStore:
    return S3ObjectStore.connect(
        server.endpoint, name, server.region, server.access_key, server.secret_key, prefix
    )


def test_objects_round_trip_with_ranges_and_deletion(s3_server: S3Server, tmp_path: Path) -> None:
    store = store_of(s3_server, bucket(s3_server), prefix="exam-2026")
    store.put_bytes("recordings/1/camera-1.webm", b"0123456789")
    assert store.size("recordings/1/camera-1.webm") == 10
    assert store.read_range("recordings/1/camera-1.webm", 2, 4) == b"234"
    assert store.get_bytes("recordings/1/camera-1.webm") == b"0123456789"
    local = tmp_path / "segment.webm"
    local.write_bytes(b"x" * 5000)
    assert store.put_file("recordings/1/screen-2.webm", local) == 5000
    assert not local.exists()  # stored on the object store: the local copy goes
    listed = store.client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        "exam-2026/recordings/1/camera-1.webm",
        "exam-2026/recordings/1/screen-2.webm",
    ]
    assert store.delete("recordings/1/camera-1.webm") is True
    assert store.delete("recordings/1/camera-1.webm") is False
    assert store.size("recordings/1/camera-1.webm") is None


def test_snapshots_are_content_addressed_on_the_object_store(s3_server: S3Server) -> None:
    snapshots = ObjectSnapshotStore(store_of(s3_server, bucket(s3_server)))
    blob = snapshots.put(b"\xff\xd8\xff a picture")
    again = snapshots.put(b"\xff\xd8\xff a picture")  # the same picture: one object
    assert blob == again and blob.path == f"{blob.sha256[:2]}/{blob.sha256}.jpg"
    assert snapshots.get(blob.sha256) == b"\xff\xd8\xff a picture"
    assert snapshots.delete(blob.sha256) and not snapshots.delete(blob.sha256)


@pytest.mark.parametrize("key", ["../etc/passwd", "snapshots/../x", "/abs", "other/x", ""])
def test_keys_are_checked(s3_server: S3Server, key: str) -> None:
    store = store_of(s3_server, bucket(s3_server))
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")


@pytest.fixture
async def s3_live(
    s3_server: S3Server, settings: Settings, tmp_path: Path, pool: asyncpg.Pool
) -> AsyncIterator[tuple[LiveServer, Settings, S3ObjectStore]]:
    name = bucket(s3_server)
    configured = dataclasses.replace(
        settings,
        data_dir=tmp_path / "data",
        snapshot_mean_interval_s=3.0,
        snapshot_min_gap_s=1.0,
        evidence=dataclasses.replace(
            settings.evidence,
            object_store=ObjectStoreSettings(
                s3_server.endpoint,
                name,
                s3_server.region,
                s3_server.access_key,
                s3_server.secret_key,
                "proctor",
            ),
        ),
    )
    live = await start_live_server(configured)
    try:
        yield live, configured, store_of(s3_server, name, "proctor")
    finally:
        await live.stop()


async def test_a_configured_object_store_holds_the_attempts_evidence(
    s3_live: tuple[LiveServer, Settings, S3ObjectStore], pool: asyncpg.Pool
) -> None:
    server, settings, objects = s3_live
    attempt = await open_attempt(pool, settings)
    enable_loopback_candidates()
    pc = RTCPeerConnection()
    pc.addTrack(FakeCamera(picture=picture_with_faces(1)))
    pc.addTrack(FakeScreen())
    await pc.setLocalDescription(await pc.createOffer())
    body = {
        "token": attempt.pc_token,
        "sdp": pc.localDescription.sdp,
        "type": "offer",
        "client_id": secrets.token_hex(8),
    }
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        answer = await http.post("/api/rtc/offer", json=body)
    assert answer.status_code == 200, answer.text
    await pc.setRemoteDescription(RTCSessionDescription(**answer.json()))

    async def snapshot_rows() -> list[asyncpg.Record]:
        async with pool.acquire() as conn:
            return await conn.fetch(
                "SELECT * FROM snapshots WHERE attempt_id = $1 AND device IN ('pc', 'screen')",
                attempt.id,
            )

    try:
        rows = await eventually(snapshot_rows, within=30)
    finally:
        await pc.close()

    async def segment_rows() -> list[asyncpg.Record]:
        async with pool.acquire() as conn:
            found = await conn.fetch(
                "SELECT * FROM recording_segments WHERE attempt_id = $1", attempt.id
            )
        return found if {r["track"] for r in found} == {"camera", "screen"} else []

    segments = await eventually(segment_rows, within=30)
    keys = {o["Key"] for o in objects.client.list_objects_v2(Bucket=objects.bucket)["Contents"]}
    for row in rows:
        assert f"proctor/snapshots/{row['path']}" in keys
    for segment in segments:
        assert f"proctor/{segment['path']}" in keys
        assert objects.size(segment["path"]) == segment["size_bytes"]
    local = settings.data_dir
    assert not list(local.glob("snapshots/**/*.jpg")) and not list(
        local.glob("recordings/**/*.webm")
    )

    reviewer = await create_user(pool, "reviewer")
    async with await client_for(server.url, pool, reviewer.id) as http:
        image = await http.get(f"/api/rtc/snapshots/{rows[0]['id']}/image")
        assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"
        video = await http.get(
            f"/api/recordings/{segments[0]['id']}", headers={"Range": "bytes=0-3"}
        )
        assert video.status_code == 206 and video.content == b"\x1aE\xdf\xa3"
