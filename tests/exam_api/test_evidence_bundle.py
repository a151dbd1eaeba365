"""The evidence bundle (rule M4): a zip streamed piece by piece with the
timeline, the chain's verification, both devices' pictures and a manifest;
reviewers and administrators only."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg

from exam_api.evidence_bundle import CHUNK, stream_zip
from exam_api.services import BundleEntry
from tests.support import files
from tests.support.audit import sat_attempt
from tests.support.devices import Devices
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.users import create_user


def _entry(name: str, size: int) -> BundleEntry:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, size, CHUNK):
            yield bytes([start % 251]) * min(CHUNK, size - start)

    return BundleEntry(name, chunks)


async def test_the_zip_is_sent_piece_by_piece() -> None:
    # memory stays bounded: 8 MiB of evidence never sits in one piece
    entries = [_entry(f"snapshots/pc/{i:06d}-random.jpg", 1024 * 1024) for i in range(8)]
    pieces = [piece async for piece in stream_zip(entries, {"attempt_id": 1})]
    assert len(pieces) > 100 and max(len(p) for p in pieces) <= 2 * CHUNK
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zf:
        assert zf.testzip() is None
        manifest = json.loads(zf.read("manifest.json"))
        assert [f["bytes"] for f in manifest["files"]] == [1024 * 1024] * 8


async def _snapshot(server: LiveServer, pool: asyncpg.Pool, attempt_id: int, device: str) -> bytes:
    data = files.jpeg_bytes(80 if device == "pc" else 60, 60)
    blob = server.rtc.store.put(data)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO snapshots (attempt_id, device, reason, taken_at, sha256, path)
               VALUES ($1, $2, 'random', $3, $4, $5)""",
            attempt_id,
            device,
            datetime.now(UTC),
            blob.sha256,
            blob.path,
        )
    return data


async def test_a_reviewer_downloads_the_bundle_of_a_sat_attempt(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rule M4 (and H7: the chain's verification travels with the evidence)
    sat = await sat_attempt(server, pool, devices)
    aid = sat["attempt_id"]
    pc = await _snapshot(server, pool, aid, "pc")
    phone = await _snapshot(server, pool, aid, "phone")
    async with pool.acquire() as conn:  # a picture the retention sweep already deleted
        await conn.execute(
            """INSERT INTO snapshots (attempt_id, device, reason, taken_at, sha256, path)
               VALUES ($1, 'pc', 'random', now(), $2, 'gone.jpg')""",
            aid,
            "0" * 64,
        )
    async with await client_for(server.url, pool, sat["reviewer"].id) as http:
        reply = await http.get(f"/api/attempts/{aid}/evidence.zip")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/zip"
    assert f"attempt-{aid}-evidence.zip" in reply.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(reply.content)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        timeline = json.loads(zf.read("timeline.json"))
        verification = json.loads(zf.read("verification.json"))
        manifest = json.loads(zf.read("manifest.json"))
        pictures = {n: zf.read(n) for n in names if n.startswith("snapshots/")}
    assert names[:2] == ["timeline.json", "verification.json"] and names[-1] == "manifest.json"
    assert timeline["attempt"]["attempt_id"] == aid and timeline["actions"]
    assert verification["ok"] is True and verification["label"] == "记录已校验"
    assert manifest["chain_ok"] is True and manifest["chain_head"] == verification["head"]
    photos = [data for name, data in pictures.items() if name.startswith("snapshots/phone/")]
    frames = [data for name, data in pictures.items() if name.startswith("snapshots/pc/")]
    assert phone in photos and pc in frames  # besides the start's own pictures
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM snapshots WHERE attempt_id = $1 AND sha256 <> $2", aid, "0" * 64
        )
    assert len(pictures) == stored
    listed = {f["name"]: f["sha256"] for f in manifest["files"]}
    for name, data in pictures.items():
        assert listed[name] == hashlib.sha256(data).hexdigest()
    assert len(manifest["missing"]) == 1 and manifest["missing"][0].startswith("snapshots/pc/")


async def test_only_reviewers_and_administrators_download_a_bundle(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    sat = await sat_attempt(server, pool, devices)
    aid = sat["attempt_id"]
    admin = await create_user(pool, "admin")
    expected = {sat["candidate"].id: 403, sat["invigilator"].id: 403, admin.id: 200}
    for user_id, status in expected.items():
        async with await client_for(server.url, pool, user_id) as http:
            reply = await http.get(f"/api/attempts/{aid}/evidence.zip")
        assert reply.status_code == status, (user_id, reply.text[:100])
    async with await client_for(server.url, pool, admin.id) as http:
        missing = await http.get("/api/attempts/999999999/evidence.zip")
    assert (missing.status_code, missing.json()["error"]) == (404, "attempt_not_found")


async def test_the_bundle_holds_the_recording(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    # rules M4, K1: the camera's and the screen's WebM segments travel too,
    # byte for byte from the evidence store (a deleted one is listed missing)
    sat = await sat_attempt(server, pool, devices)
    aid = sat["attempt_id"]
    segment = b"\x1aE\xdf\xa3" + bytes(range(256)) * 5000  # 1.28 MB: read in several ranges
    key = f"recordings/test/{aid}-camera-0.webm"
    server.recordings.objects.put_bytes(key, segment)
    async with pool.acquire() as conn:
        for path in (key, f"recordings/test/{aid}-screen-gone.webm"):
            await conn.execute(
                """INSERT INTO recording_segments
                       (attempt_id, track, started_at, ended_at, path, size_bytes, frames)
                   VALUES ($1, $2, now(), now(), $3, $4, 30)""",
                aid,
                "camera" if path == key else "screen",
                path,
                len(segment),
            )
    async with await client_for(server.url, pool, sat["reviewer"].id) as http:
        reply = await http.get(f"/api/attempts/{aid}/evidence.zip")
    with zipfile.ZipFile(io.BytesIO(reply.content)) as zf:
        videos = {n: zf.read(n) for n in zf.namelist() if n.startswith("recording/")}
        manifest = json.loads(zf.read("manifest.json"))
    assert list(videos.values()) == [segment]
    assert next(iter(videos)).startswith("recording/camera/")
    assert (
        [m for m in manifest["missing"] if m.startswith("recording/")]
        == [m for m in manifest["missing"] if m.startswith("recording/screen/")]
        != []
    )
