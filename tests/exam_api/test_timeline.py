"""The reviewer's evidence timeline (rules H3, H5, H6) on the real database,
after a session driven through the real hub sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from exam_api.timeline import _object, snapshots_of
from proctor.settings import Settings
from tests.support.devices import phone_proves_camera, send_photo
from tests.support.hub_client import DeviceClient
from tests.support.invigilation import room_with_attempts
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.users import create_user
from tests.support.waits import eventually


def test_a_violation_keeps_the_snapshots_linked_to_it_by_index() -> None:
    # rules H3, H10: by the violation's index, not by a time window (a random
    # snapshot a second later is not its evidence)
    shots = [
        {"id": 1, "t": 100.0, "violation": None},
        {"id": 2, "t": 100.1, "violation": 1},
        {"id": 3, "t": 100.2, "violation": 1},
        {"id": 4, "t": 160.0, "violation": 2},
    ]
    assert snapshots_of(shots, 1) == [2, 3]
    assert snapshots_of(shots, 2) == [4]
    assert snapshots_of(shots, 3) == []


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
        await phone_proves_camera(phone)  # rule H9: a photo, not a word
        for cause in ("visibility", "blur"):
            await pc.call("focus", state="lost", cause=cause)
        # rule H10: the violation's phone photo, requested by the same commit
        capture = await phone.wait_for("capture", reason="violation")
        assert (await send_photo(phone, capture["request_id"]))["type"] == "ack"
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
    # its own evidence by index; the rows merely near it in time are not (H10)
    linked = [s for s in data["snapshots"] if s["id"] in violation["snapshot_ids"]]
    assert [(s["device"], s["reason"], s["violation"]) for s in linked] == [
        ("phone", "violation", 1)
    ]
    assert near_pc not in violation["snapshot_ids"] and near_phone not in violation["snapshot_ids"]
    flags = {s["id"]: s["face_flag"] for s in data["snapshots"]}
    assert {i: flags[i] for i in (near_pc, near_phone, far)} == {
        near_pc: "none",
        near_phone: "several",
        far: "one",
    }  # rule H6: flags
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
