"""The invigilator wall's API on the real PostgreSQL and Redis, with real hub
websockets for the candidate's devices (rules G5, H1-H4)."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import httpx
import pytest
import websockets

from exam_api.demo import DEMO_CLASS, seed_demo
from proctor.settings import Settings
from tests.support.devices import live_pair
from tests.support.hub_client import DeviceClient, HubAttempt
from tests.support.invigilation import room_with_attempts
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.users import create_user, login_cookies


async def _devices(server: LiveServer, attempt: HubAttempt) -> tuple[DeviceClient, DeviceClient]:
    """Both devices connected with live cameras as measured (rules D1, H9);
    the PC's camera peer closes with the PC client."""
    pc, phone, peer = await live_pair(server.ws_url, attempt.pc_token, attempt.phone_token)
    close_socket = pc.close

    async def close_both() -> None:
        await peer.close()
        await close_socket()

    pc.close = close_both  # type: ignore[method-assign]
    return pc, phone


async def _switch_away(pc: DeviceClient) -> None:
    """One switch away: visibility + blur + back count once (rule H3)."""
    for cause in ("visibility", "blur"):
        assert (await pc.call("focus", state="lost", cause=cause))["type"] == "ack"
    assert (await pc.call("focus", state="back"))["type"] == "ack"


async def _wall(http: httpx.AsyncClient) -> dict[str, dict]:
    """Every tile the caller sees, page by page: an administrator sees every
    running attempt of the session's database, more than one page of them."""
    tiles: dict[str, dict] = {}
    while True:
        reply = await http.get(f"/api/invigilate/sessions?limit=200&offset={len(tiles)}")
        assert reply.status_code == 200, reply.text
        page = reply.json()
        tiles |= {s["attempt_id"]: s for s in page["sessions"]}
        if not page["sessions"] or len(tiles) >= page["total"]:
            return tiles


async def test_permission_matrix(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # roles: invigilators see their assigned rooms only, admins all, candidates nothing
    room = await room_with_attempts(pool, settings, ["甲"])
    other = await room_with_attempts(pool, settings, ["乙"])
    mine, theirs = room.attempts[0].attempt_id, other.attempts[0].attempt_id
    candidate = await create_user(pool)
    reviewer = await create_user(pool, "reviewer")
    admin = await create_user(pool, "admin")
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert (await anonymous.get("/api/invigilate/sessions")).status_code == 401
    for user_id in (candidate.id, reviewer.id):
        async with await client_for(server.url, pool, user_id) as http:
            assert (await http.get("/api/invigilate/sessions")).status_code == 403
            warn = await http.post(f"/api/invigilate/attempts/{mine}/warn", json={"text": "x"})
            assert warn.status_code == 403
    async with await client_for(server.url, pool, candidate.id) as http:
        assert (await http.get(f"/api/attempts/{mine}/timeline")).status_code == 403
    async with await client_for(server.url, pool, room.invigilator.id) as http:
        wall = await _wall(http)
        assert mine in wall and theirs not in wall
        assert (await http.get("/api/invigilate/sessions")).json()["rooms"] == [
            {"id": room.class_id, "name": wall[mine]["class_name"]}
        ]
        for path, body in (
            ("warn", {"text": "请坐正"}),
            ("end", {"reason": "替考"}),
            ("forgive", {"index": 1, "reason": "误判"}),
            ("watch", {"watched": True}),
        ):
            reply = await http.post(f"/api/invigilate/attempts/{theirs}/{path}", json=body)
            assert (reply.status_code, reply.json()["error"]) == (403, "not_your_room"), path
        assert (await http.get(f"/api/invigilate/attempts/{theirs}/live.jpg")).status_code == 403
        assert (await http.get(f"/api/attempts/{theirs}/timeline")).status_code == 403
        assert (await http.get(f"/api/attempts/{mine}/timeline")).status_code == 200
        missing = await http.post("/api/invigilate/attempts/999999999/warn", json={"text": "x"})
        assert missing.status_code == 404
        # a state change without the CSRF header is refused
        http.headers.pop("X-CSRF-Token")
        no_csrf = await http.post(f"/api/invigilate/attempts/{mine}/warn", json={"text": "x"})
        assert (no_csrf.status_code, no_csrf.json()["error"]) == (403, "csrf_failed")
    async with await client_for(server.url, pool, admin.id) as http:
        wall = await _wall(http)
        assert {mine, theirs} <= set(wall)
    async with await client_for(server.url, pool, reviewer.id) as http:
        assert (await http.get(f"/api/attempts/{theirs}/timeline")).status_code == 200


async def test_admin_assigns_and_unassigns_rooms(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    room = await room_with_attempts(pool, settings, ["丙"], assigned=False)
    admin = await create_user(pool, "admin")
    candidate = await create_user(pool)
    inv = room.invigilator
    path = f"/api/admin/classes/{room.class_id}/invigilators"
    async with await client_for(server.url, pool, inv.id) as http:
        assert room.attempts[0].attempt_id not in await _wall(http)
        assert (await http.post(path, json={"username": inv.username})).status_code == 403
    async with await client_for(server.url, pool, admin.id) as http:
        added = await http.post(path, json={"username": inv.username})
        assert added.status_code == 200 and added.json()["added"] is True
        again = await http.post(path, json={"username": inv.username})
        assert again.json()["added"] is False  # idempotent
        wrong = await http.post(path, json={"username": candidate.username})
        assert (wrong.status_code, wrong.json()["error"]) == (400, "not_an_invigilator")
        listed = (await http.get("/api/admin/invigilation/assignments")).json()["assignments"]
        assert {"class_id": room.class_id, "user_id": inv.id} in [
            {"class_id": a["class_id"], "user_id": a["user"]["id"]} for a in listed
        ]
    async with await client_for(server.url, pool, inv.id) as http:
        assert room.attempts[0].attempt_id in await _wall(http)
    async with await client_for(server.url, pool, admin.id) as http:
        removed = await http.delete(f"{path}/{inv.id}")
        assert removed.json() == {"ok": True, "removed": True}
    async with await client_for(server.url, pool, inv.id) as http:
        assert room.attempts[0].attempt_id not in await _wall(http)


async def test_wall_sorted_by_risk_then_staleness(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule H4: riskiest first (violations, lost/asleep cameras, devices missing);
    # among equal risk, the stalest camera first
    room = await room_with_attempts(pool, settings, ["无设备", "违规两次", "手机休眠", "旧", "新"])
    idle, risky, asleep, older, newer = room.attempts
    clients: list[DeviceClient] = []
    try:
        for attempt in (risky, asleep, older):
            clients += await _devices(server, attempt)
        await asyncio.sleep(0.3)  # so `older` is measurably staler than `newer`
        clients += await _devices(server, newer)
        risky_pc = clients[0]
        await _switch_away(risky_pc)
        await _switch_away(risky_pc)
        assert (await clients[3].call("camera", state="asleep"))["type"] == "ack"
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            reply = (await http.get("/api/invigilate/sessions")).json()
        tiles = reply["sessions"]
        assert [t["attempt_id"] for t in tiles] == [
            risky.attempt_id,
            idle.attempt_id,
            asleep.attempt_id,
            older.attempt_id,
            newer.attempt_id,
        ]
        top = tiles[0]
        assert (top["violations"], top["max_violations"]) == (2, 5)
        assert top["risk_reasons"] == ["violation"]
        assert [v["index"] for v in top["ledger"]] == [1, 2]
        assert tiles[1]["status"] == "waiting" and tiles[1]["staleness_s"] is None
        assert tiles[2]["cameras"]["phone"]["camera"] == "asleep"
        assert tiles[3]["staleness_s"] > tiles[4]["staleness_s"]
        for tile in tiles[2:]:
            assert tile["cameras"]["pc"]["connected"] and tile["cameras"]["pc"]["camera"] == "live"
            assert tile["candidate"]["name"] in ("手机休眠", "旧", "新")
        assert reply["total"] == 5
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            page = (await http.get("/api/invigilate/sessions?limit=2&offset=1")).json()
            assert [t["attempt_id"] for t in page["sessions"]] == [
                idle.attempt_id,
                asleep.attempt_id,
            ]
            assert (await http.get("/api/invigilate/sessions?limit=5000")).status_code == 400
    finally:
        for client in clients:
            await client.close()


async def test_warn_reaches_both_devices_and_is_audited(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule H4: warnings sent to the candidate
    room = await room_with_attempts(pool, settings, ["丁"])
    attempt = room.attempts[0]
    pc, phone = await _devices(server, attempt)
    try:
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            empty = await http.post(
                f"/api/invigilate/attempts/{attempt.attempt_id}/warn", json={"text": " "}
            )
            assert (empty.status_code, empty.json()["error"]) == (400, "missing_text")
            reply = await http.post(
                f"/api/invigilate/attempts/{attempt.attempt_id}/warn",
                json={"text": "请保持面部在摄像头画面内"},
            )
            assert reply.status_code == 200, reply.text
            for device in (pc, phone):
                warning = await device.wait_for("warning")
                assert warning["message"] == "请保持面部在摄像头画面内"
            wall = await _wall(http)
        assert wall[attempt.attempt_id]["warnings"] == 1
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT user_id, action, detail, at FROM invigilator_actions WHERE id = $1",
                reply.json()["action_id"],
            )
        assert (row["user_id"], row["action"]) == (room.invigilator.id, "warn")
        assert row["detail"] == {"text": "请保持面部在摄像头画面内"}
    finally:
        await pc.close()
        await phone.close()


async def test_forgive_one_violation_with_a_reason(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule H3: an invigilator may forgive one violation, audited (who, when, what, why)
    room = await room_with_attempts(pool, settings, ["戊"])
    attempt = room.attempts[0]
    path = f"/api/invigilate/attempts/{attempt.attempt_id}/forgive"
    pc, phone = await _devices(server, attempt)
    try:
        await _switch_away(pc)
        assert (await pc.wait_for("violation"))["count"] == 1
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            no_reason = await http.post(path, json={"index": 1})
            assert (no_reason.status_code, no_reason.json()["error"]) == (400, "missing_reason")
            unknown = await http.post(path, json={"index": 9, "reason": "误判"})
            assert (unknown.status_code, unknown.json()["error"]) == (409, "no_such_violation")
            ok = await http.post(path, json={"index": 1, "reason": "考生举手示意，经核实为误触"})
            assert ok.status_code == 200, ok.text
            # the candidate's page hears the new count at once
            state = await pc.wait_for("state", violations=0)
            assert state["violations"] == 0
            again = await http.post(path, json={"index": 1, "reason": "重复"})
            assert (again.status_code, again.json()["error"]) == (409, "already_forgiven")
            assert (await _wall(http))[attempt.attempt_id]["violations"] == 0
        async with pool.acquire() as conn:
            forgiven_by = await conn.fetchval(
                "SELECT forgiven_by FROM attempt_violations WHERE attempt_id = $1 AND idx = 1",
                attempt.attempt_id,
            )
            audit = await conn.fetch(
                "SELECT user_id, action, detail, reason FROM invigilator_actions"
                " WHERE attempt_id = $1",
                attempt.attempt_id,
            )
        assert forgiven_by == room.invigilator.id
        assert [(a["user_id"], a["action"], a["detail"], a["reason"]) for a in audit] == [
            (room.invigilator.id, "forgive", {"index": 1}, "考生举手示意，经核实为误触")
        ]
    finally:
        await pc.close()
        await phone.close()


async def test_end_with_a_reason_ends_the_attempt_everywhere(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule H4 / roles: an invigilator ends an attempt with a reason
    room = await room_with_attempts(pool, settings, ["己"])
    attempt = room.attempts[0]
    path = f"/api/invigilate/attempts/{attempt.attempt_id}/end"
    pc, phone = await _devices(server, attempt)
    try:
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            no_reason = await http.post(path, json={})
            assert (no_reason.status_code, no_reason.json()["error"]) == (400, "missing_reason")
            ok = await http.post(path, json={"reason": "发现他人代考"})
            assert ok.status_code == 200, ok.text
            for device in (pc, phone):
                ended = await device.wait_for("ended")
                assert ended["reason"] == "invigilator"
            again = await http.post(path, json={"reason": "再次"})
            assert (again.status_code, again.json()["error"]) == (409, "attempt_ended")
            assert attempt.attempt_id not in await _wall(http)
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT status, end_reason FROM attempts WHERE id = $1", attempt.attempt_id
            )
            audit = await conn.fetchrow(
                "SELECT user_id, action, reason FROM invigilator_actions WHERE attempt_id = $1",
                attempt.attempt_id,
            )
        assert (row["status"], row["end_reason"]) == ("ended", "invigilator")
        assert tuple(audit) == (room.invigilator.id, "end", "发现他人代考")
    finally:
        await pc.close()
        await phone.close()


async def test_watch_and_live_frame_without_a_camera(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule H4: live video on demand; without a PC peer here the page falls back
    room = await room_with_attempts(pool, settings, ["庚"])
    attempt_id = room.attempts[0].attempt_id
    async with await client_for(server.url, pool, room.invigilator.id) as http:
        watch = await http.post(
            f"/api/invigilate/attempts/{attempt_id}/watch", json={"watched": True}
        )
        assert watch.json() == {"ok": True, "attempt_id": attempt_id, "watched": True}
        bad = await http.post(f"/api/invigilate/attempts/{attempt_id}/watch", json={"watched": 1})
        assert bad.status_code == 400
        frame = await http.get(f"/api/invigilate/attempts/{attempt_id}/live.jpg")
        assert (frame.status_code, frame.json()["error"]) == (404, "no_live_video")


async def test_demo_invigilator_watches_the_demo_room(pool: asyncpg.Pool) -> None:
    # rule G5: the demo seed assigns demo_invigilator to the demo class, idempotently
    async with pool.acquire() as conn:
        await seed_demo(conn)
        await seed_demo(conn)
        rows = await conn.fetch(
            """SELECT c.name FROM invigilator_assignments ia
                 JOIN users u ON u.id = ia.user_id JOIN classes c ON c.id = ia.class_id
                WHERE u.username = 'demo_invigilator'"""
        )
    assert [r["name"] for r in rows] == [DEMO_CLASS]


async def test_the_live_state_socket_is_for_the_room_only(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule G5: an invigilator follows the attempts of their own rooms only
    room = await room_with_attempts(pool, settings, ["癸"])
    other = await room_with_attempts(pool, settings, ["子"])
    login = await login_cookies(pool, room.invigilator.id)
    cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())

    async def open_socket(attempt_id: int) -> websockets.ClientConnection:
        return await websockets.connect(
            f"{server.ws_url}/ws/invigilate?attempt={attempt_id}",
            additional_headers={"Cookie": cookie},
        )

    async with await open_socket(other.attempts[0].attempt_id) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    async with await open_socket(room.attempts[0].attempt_id) as ws:
        state = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (state["type"], state["attempt_id"]) == ("state", room.attempts[0].attempt_id)


async def test_a_hostile_pc_cannot_acknowledge_a_warning_it_was_not_sent(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule H4: only a warning sent to this attempt is acknowledged, once, and
    # on the timeline; made-up ids get a clear error and nothing is recorded
    room = await room_with_attempts(pool, settings, ["警一", "警二"])
    mine, theirs = room.attempts
    pc = await DeviceClient.connect(server.ws_url, "pc", mine.pc_token)
    phone = await DeviceClient.connect(server.ws_url, "phone", mine.phone_token)
    try:
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            for attempt in (theirs, mine):  # id 1 of the other attempt is not ours
                reply = await http.post(
                    f"/api/invigilate/attempts/{attempt.attempt_id}/warn",
                    json={"text": "请把手机放回侧后方"},
                )
                assert reply.status_code == 200, reply.text
        warning = await pc.wait_for("warning")
        assert (warning["id"], warning["ack_required"]) == (1, True)
        for made_up in (2, 99, 2**31 - 1):
            refused = await pc.call("warning_ack", id=made_up)
            assert (refused["type"], refused["code"]) == ("error", "unknown_warning"), refused
        for bad in ("1", 0, -1, 1.5, None, True):
            await pc.ws.send(json.dumps({"type": "warning_ack", "seq": pc.seq + 1, "id": bad}))
            error = await pc.wait_for("error")
            assert error["code"] == "bad_field" and "seq" not in error, bad
        # the PC acknowledges, not the phone
        await phone.ws.send(json.dumps({"type": "warning_ack", "seq": phone.seq + 1, "id": 1}))
        assert (await phone.wait_for("error"))["code"] == "wrong_device"
        # the wall says the warning waits for the candidate
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            tiles = await _wall(http)
        assert (
            tiles[mine.attempt_id]["warnings_open"],
            tiles[theirs.attempt_id]["warnings_open"],
        ) == (1, 1)
        # the candidate reloads before acknowledging: the warning comes again
        await pc.close()
        pc = await DeviceClient.connect(server.ws_url, "pc", mine.pc_token, resume=True)
        pc.seq = pc.welcome["last_acked"]
        assert (await pc.wait_for("warning"))["id"] == 1
        assert (await pc.call("warning_ack", id=1))["type"] == "ack"
        again = await pc.call("warning_ack", id=1)
        assert (again["type"], again["code"]) == ("error", "warning_acknowledged")
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            tiles = await _wall(http)
        assert (
            tiles[mine.attempt_id]["warnings_open"],
            tiles[theirs.attempt_id]["warnings_open"],
        ) == (0, 1)
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT attempt_id, device, data FROM attempt_events
                    WHERE kind = 'warning_ack' AND attempt_id = ANY($1::bigint[])""",
                [mine.attempt_id, theirs.attempt_id],
            )
        assert [(r["attempt_id"], r["device"], _data(r["data"])["id"]) for r in rows] == [
            (mine.attempt_id, "pc", 1)
        ]
        reviewer = await create_user(pool, "reviewer")
        async with await client_for(server.url, pool, reviewer.id) as http:
            timeline = (await http.get(f"/api/attempts/{mine.attempt_id}/timeline")).json()
        acks = [i for i in timeline["items"] if i.get("kind") == "warning_ack"]
        assert [(a["label"], a["data"]["id"]) for a in acks] == [("考生已确认监考员警告", 1)]
    finally:
        await pc.close()
        await phone.close()


def _data(value: object) -> dict:
    return json.loads(value) if isinstance(value, str) else dict(value)  # type: ignore[call-overload]
