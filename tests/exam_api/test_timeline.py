"""The reviewer's evidence timeline (rules H3, H5, H6) on the real database,
after a session driven through the real hub sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from exam_api.timeline import _object, snapshots_around
from proctor.settings import Settings
from tests.support.hub_client import DeviceClient
from tests.support.invigilation import room_with_attempts
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.users import create_user
from tests.support.waits import eventually


def test_snapshots_around_a_violation() -> None:
    # rule H3: both cameras' snapshots from 30 s before to 30 s after
    shots = [{"id": i, "t": t} for i, t in enumerate([0.0, 69.0, 75.0, 100.0, 131.0, 200.0])]
    assert snapshots_around(shots, 100.0, 100.5) == [2, 3]
    assert snapshots_around(shots, 100.0, None) == [2, 3]
    assert snapshots_around(shots, 70.0, 101.0) == [1, 2, 3, 4]


async def _snapshot(
    pool: asyncpg.Pool, attempt_id: int, device: str, at: datetime, faces: int
) -> int:
    async with pool.acquire() as conn:
        snapshot_id: int = await conn.fetchval(
            """INSERT INTO snapshots (attempt_id, device, reason, taken_at, sha256, path, faces)
               VALUES ($1, $2, 'random', $3, 'not-a-file', 'x.jpg', $4) RETURNING id""",
            attempt_id,
            device,
            at,
            faces,
        )
    return snapshot_id


def test_event_data_of_older_rows_reads_as_an_object() -> None:
    # rows the hub wrote before it stored objects hold a JSON string of one
    assert _object('{"early": true}') == {"early": True}
    assert _object({"early": True}) == {"early": True}
    assert _object("not json") == {"raw": "not json"}


async def test_timeline_puts_events_violations_snapshots_and_end_on_one_axis(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule H5
    room = await room_with_attempts(pool, settings, ["辛"])
    attempt = room.attempts[0]
    aid = attempt.attempt_id
    async with pool.acquire() as conn:  # started 20 minutes ago
        await conn.execute(
            "UPDATE attempts SET started_at = started_at - interval '20 minutes' WHERE id = $1",
            aid,
        )
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    try:
        for device in (pc, phone):
            await device.call("camera", state="live")
        for cause in ("visibility", "blur"):
            await pc.call("focus", state="lost", cause=cause)
        await pc.call("focus", state="back")
        now = datetime.now(UTC)
        near_pc = await _snapshot(pool, aid, "pc", now - timedelta(seconds=5), 0)
        near_phone = await _snapshot(pool, aid, "phone", now - timedelta(seconds=4), 2)
        far = await _snapshot(pool, aid, "pc", now - timedelta(minutes=10), 1)
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            base = f"/api/invigilate/attempts/{aid}"
            assert (await http.post(f"{base}/warn", json={"text": "请勿离开考试页面"})).is_success
            forgive = await http.post(f"{base}/forgive", json={"index": 1, "reason": "网络弹窗"})
            assert forgive.is_success
            # devices beat every 5 s; a beat also marks the stream for the persistence worker
            for device in (pc, phone):
                assert (await device.call("heartbeat"))["type"] == "ack"
            assert (await http.post(f"{base}/end", json={"reason": "考生身体不适"})).is_success
    finally:
        await pc.close()
        await phone.close()
    reviewer = await create_user(pool, "reviewer")
    async with await client_for(server.url, pool, reviewer.id) as http:

        async def timeline_with_events() -> dict[str, Any] | None:
            data: dict[str, Any] = (await http.get(f"/api/attempts/{aid}/timeline")).json()
            kinds = {e["kind"] for e in data["items"] if e["type"] == "event"}
            # telemetry reaches PostgreSQL through the persistence worker
            return data if {"connect", "camera", "focus", "warning"} <= kinds else None

        data = await eventually(timeline_with_events)
    attempt_info = data["attempt"]
    assert attempt_info["status"] == "ended" and attempt_info["candidate"]["real_name"] == "辛"
    [violation] = data["violations"]
    assert violation["kind"] == "tab_hidden" and violation["label"] == "切换页面或窗口"
    assert violation["forgiven"] is True and violation["forgive_reason"] == "网络弹窗"
    assert violation["forgiven_by"] == "监考员甲"
    assert set(violation["snapshot_ids"]) == {near_pc, near_phone}
    flags = {s["id"]: s["face_flag"] for s in data["snapshots"]}
    assert flags == {near_pc: "none", near_phone: "several", far: "one"}  # rule H6: flags
    assert data["end"]["reason"] == "invigilator" and data["end"]["label"] == "监考员结束考试"
    actions = [(a["action"], a["reason"], a["by"]["real_name"]) for a in data["actions"]]
    assert actions == [
        ("warn", "", "监考员甲"),
        ("forgive", "网络弹窗", "监考员甲"),
        ("end", "考生身体不适", "监考员甲"),
    ]
    items = data["items"]
    times = [i["t"] for i in items]
    assert times == sorted(times)  # one time axis
    assert items[0]["type"] == "start" and items[-1]["type"] == "end"
    types = [i["type"] for i in items]
    assert (items[1]["type"], items[1]["id"]) == ("snapshot", far)  # 10 minutes in
    first_lost = next(i for i, x in enumerate(items) if x.get("kind") == "focus")
    assert types.index("violation") > types.index("event")
    assert items[first_lost]["data"]["state"] == "lost"
    assert types.count("violation") == 1 and types.count("action") == 3
    for item in items:
        if item["type"] == "snapshot":
            assert item["image_url"] == f"/api/rtc/snapshots/{item['id']}/image"
