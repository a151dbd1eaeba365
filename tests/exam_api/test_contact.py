"""The invigilators' side of two-way contact on the real PostgreSQL and Redis,
with real hub websockets for the candidates' devices (rule L1)."""

from __future__ import annotations

import asyncpg
import httpx

from exam_api.contact import MAX_PRESETS
from hub.contact import STAFF_LIMIT
from proctor import audit_chain
from proctor.settings import Settings
from tests.support.contact import no_running_attempt_left, server_b
from tests.support.hub_client import DeviceClient
from tests.support.invigilation import room_with_attempts
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.users import create_user

__all__ = ["no_running_attempt_left", "server_b"]


async def _told(device: DeviceClient, kind: str) -> dict:
    """The next invigilator's message of this kind the device is told."""
    while True:
        message = await device.wait_for("message", **{"from": "invigilator"})
        if message["kind"] == kind:
            return message


async def _wall(http: httpx.AsyncClient) -> list[dict]:
    reply = await http.get("/api/invigilate/sessions")
    assert reply.status_code == 200, reply.text
    sessions: list[dict] = reply.json()["sessions"]
    return sessions


async def test_a_call_raises_the_hand_on_top_until_answered(
    server: LiveServer, server_b: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule L1: the call lights the tile and sorts it first; a reply (or "answered") lowers it
    room = await room_with_attempts(pool, settings, ["甲", "乙", "丙"])
    caller = room.attempts[2]
    pc = await DeviceClient.connect(server.ws_url, "pc", caller.pc_token)
    phone = await DeviceClient.connect(server_b.ws_url, "phone", caller.phone_token)
    async with await client_for(server_b.url, pool, room.invigilator.id) as http:
        try:
            assert all(s["contact"] is None for s in await _wall(http))
            assert (await pc.call("call", cid="c1"))["type"] == "ack"
            wall = await _wall(http)
            assert wall[0]["attempt_id"] == caller.attempt_id
            assert wall[0]["contact"]["hand_raised"] is True
            assert wall[0]["contact"]["last_text"] == "考生呼叫监考员"
            panel = await http.get(f"/api/invigilate/attempts/{caller.attempt_id}/messages")
            assert [m["kind"] for m in panel.json()["messages"]] == ["call"]

            reply = await http.post(
                f"/api/invigilate/attempts/{caller.attempt_id}/messages",
                json={"text": "请稍等，马上处理"},
            )
            assert reply.status_code == 200, reply.text
            for device in (pc, phone):  # both devices, on both processes
                told = await _told(device, "text")
                assert told["text"] == "请稍等，马上处理"
            assert all(s["contact"] is None for s in await _wall(http))

            # a second call, answered explicitly
            assert (await phone.call("call", cid="c2"))["type"] == "ack"
            assert (await _wall(http))[0]["contact"]["hand_raised"] is True
            done = await http.post(f"/api/invigilate/attempts/{caller.attempt_id}/answered")
            assert done.status_code == 200, done.text
            assert (await _told(pc, "answered"))["text"].startswith("监考员已收到")
            assert all(s["contact"] is None for s in await _wall(http))
            again = await http.post(f"/api/invigilate/attempts/{caller.attempt_id}/answered")
            assert (again.status_code, again.json()["error"]) == (409, "no_call")
        finally:
            await pc.close()
            await phone.close()


async def test_a_candidate_text_waits_below_a_raised_hand(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    room = await room_with_attempts(pool, settings, ["甲", "乙"])
    texter, caller = room.attempts
    a = await DeviceClient.connect(server.ws_url, "pc", texter.pc_token)
    b = await DeviceClient.connect(server.ws_url, "phone", caller.phone_token)
    try:
        assert (await a.call("say", cid="t1", text="第5题的图片打不开"))["type"] == "ack"
        assert (await b.call("call", cid="c1"))["type"] == "ack"
        async with await client_for(server.url, pool, room.invigilator.id) as http:
            wall = await _wall(http)
        assert [s["attempt_id"] for s in wall] == [caller.attempt_id, texter.attempt_id]
        assert wall[1]["contact"] == {
            "since": wall[1]["contact"]["since"],
            "hand_raised": False,
            "calls": 0,
            "messages": 1,
            "last_text": "第5题的图片打不开",
        }
    finally:
        await a.close()
        await b.close()


async def test_a_room_message_reaches_every_running_attempt_and_answers_nobody(
    server: LiveServer, server_b: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule L1: an invigilator messages a whole room; an offline device gets it on reconnect
    room = await room_with_attempts(pool, settings, ["甲", "乙"])
    online, offline = room.attempts
    pc = await DeviceClient.connect(server.ws_url, "pc", online.pc_token)
    try:
        assert (await pc.call("call", cid="c1"))["type"] == "ack"
        async with await client_for(server_b.url, pool, room.invigilator.id) as http:
            sent = await http.post(
                f"/api/invigilate/rooms/{room.class_id}/messages",
                json={"text": "距离考试结束还有15分钟"},
            )
            assert sent.status_code == 200, sent.text
            assert sorted(sent.json()["attempt_ids"]) == sorted(a.attempt_id for a in room.attempts)
            told = await pc.wait_for("message", scope="room")
            assert told["text"] == "距离考试结束还有15分钟"
            # a room message is no answer to this candidate's call
            tile = next(s for s in await _wall(http) if s["attempt_id"] == online.attempt_id)
            assert tile["contact"]["hand_raised"] is True
    finally:
        await pc.close()
    phone = await DeviceClient.connect(server.ws_url, "phone", offline.phone_token)
    try:
        batch = await phone.wait_for("messages")
        assert [(m["text"], m["scope"]) for m in batch["items"]] == [
            ("距离考试结束还有15分钟", "room")
        ]
    finally:
        await phone.close()


async def test_invigilators_message_only_their_rooms(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule G5 for L1: another room's attempt and room are refused, before the body is read
    mine = await room_with_attempts(pool, settings, ["甲"])
    theirs = await room_with_attempts(pool, settings, ["乙"])
    other_attempt = theirs.attempts[0].attempt_id
    candidate = await create_user(pool)
    async with await client_for(server.url, pool, mine.invigilator.id) as http:
        for method, path in (
            ("GET", f"/api/invigilate/attempts/{other_attempt}/messages"),
            ("POST", f"/api/invigilate/attempts/{other_attempt}/messages"),
            ("POST", f"/api/invigilate/attempts/{other_attempt}/answered"),
            ("POST", f"/api/invigilate/rooms/{theirs.class_id}/messages"),
        ):
            reply = await http.request(method, path, json={"text": "越权"})
            assert reply.status_code == 403, (path, reply.text)
        missing = await http.post("/api/invigilate/rooms/999999999/messages", json={"text": "x"})
        assert missing.status_code == 404
    async with await client_for(server.url, pool, candidate.id) as http:
        reply = await http.post(
            f"/api/invigilate/attempts/{other_attempt}/messages", json={"text": "我是监考员"}
        )
        assert reply.status_code == 403
        assert (await http.get("/api/invigilate/presets")).status_code == 403
    async with pool.acquire() as conn:
        count = await conn.fetchval(
            "SELECT count(*) FROM contact_messages WHERE attempt_id = $1", other_attempt
        )
    assert count == 0


async def test_bad_input_and_the_invigilators_rate_limit(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    room = await room_with_attempts(pool, settings, ["甲"])
    attempt_id = room.attempts[0].attempt_id
    url = f"/api/invigilate/attempts/{attempt_id}/messages"
    async with await client_for(server.url, pool, room.invigilator.id) as http:
        for body, code in (
            ({}, "missing_text"),
            ({"text": "   "}, "missing_text"),
            ({"text": 7}, "bad_text"),
            ({"text": "长" * 501}, "bad_text"),
        ):
            reply = await http.post(url, json=body)
            assert (reply.status_code, reply.json()["error"]) == (400, code)
        for i in range(STAFF_LIMIT):
            assert (await http.post(url, json={"text": f"第{i}条"})).status_code == 200
        flood = await http.post(url, json={"text": "再来一条"})
        assert (flood.status_code, flood.json()["error"]) == (429, "rate_limited")
        assert "每分钟" in flood.json()["message"]


async def test_no_message_to_an_ended_attempt(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    room = await room_with_attempts(pool, settings, ["甲"])
    attempt = room.attempts[0]
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        assert (await pc.call("submit"))["type"] == "ack"
    finally:
        await pc.close()
    async with await client_for(server.url, pool, room.invigilator.id) as http:
        reply = await http.post(
            f"/api/invigilate/attempts/{attempt.attempt_id}/messages", json={"text": "x"}
        )
        assert (reply.status_code, reply.json()["error"]) == (409, "attempt_ended")


async def test_presets_are_kept_by_administrators(server: LiveServer, pool: asyncpg.Pool) -> None:
    admin = await create_user(pool, "admin")
    invigilator = await create_user(pool, "invigilator")
    async with await client_for(server.url, pool, admin.id) as http:
        before = (await http.get("/api/invigilate/presets")).json()
        assert before["max"] == MAX_PRESETS
        try:
            saved = await http.put(
                "/api/admin/contact/presets", json={"presets": [" 请坐正 ", "请调整手机"]}
            )
            assert saved.json()["presets"] == ["请坐正", "请调整手机"]
            too_many = await http.put(
                "/api/admin/contact/presets", json={"presets": ["x"] * (MAX_PRESETS + 1)}
            )
            assert (too_many.status_code, too_many.json()["error"]) == (400, "too_many_presets")
            for bad in ({"presets": "x"}, {"presets": [""]}, {"presets": ["长" * 201]}, {}):
                assert (await http.put("/api/admin/contact/presets", json=bad)).status_code == 400
        finally:
            restore = await http.put("/api/admin/contact/presets", json=before)
            assert restore.status_code == 200
    async with await client_for(server.url, pool, invigilator.id) as http:
        assert (await http.get("/api/invigilate/presets")).json()["presets"] == before["presets"]
        refused = await http.put("/api/admin/contact/presets", json={"presets": []})
        assert refused.status_code == 403


async def test_every_message_is_on_the_timeline(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule L1: both directions, the call and the answer, on the attempt's timeline
    room = await room_with_attempts(pool, settings, ["甲"])
    attempt = room.attempts[0]
    reviewer = await create_user(pool, "reviewer")
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    try:
        assert (await phone.call("call", cid="c1"))["type"] == "ack"
        assert (await phone.call("say", cid="s1", text="手机电量低"))["type"] == "ack"
    finally:
        await phone.close()
    async with await client_for(server.url, pool, room.invigilator.id) as http:
        path = f"/api/invigilate/attempts/{attempt.attempt_id}"
        assert (
            await http.post(f"{path}/messages", json={"text": "请接上充电器"})
        ).status_code == 200
        sent = await http.post(
            f"/api/invigilate/rooms/{room.class_id}/messages", json={"text": "全体注意"}
        )
        assert sent.status_code == 200
    async with await client_for(server.url, pool, reviewer.id) as http:
        timeline = (await http.get(f"/api/attempts/{attempt.attempt_id}/timeline")).json()
    items = [i for i in timeline["items"] if i["type"] == "message"]
    assert [(i["index"], i["from"], i["kind"], i["label"], i["text"]) for i in items] == [
        (1, "candidate", "call", "考生呼叫监考员", "考生呼叫监考员"),
        (2, "candidate", "text", "考生消息", "手机电量低"),
        (3, "invigilator", "text", "监考员消息", "请接上充电器"),
        (4, "invigilator", "text", "监考员消息（全考场）", "全体注意"),
    ]
    assert len(timeline["messages"]) == 4
    # rule H7: the messages are links of the attempt's chain; an edited one is caught
    async with pool.acquire() as conn:
        assert (await audit_chain.verify(conn, attempt.attempt_id)).ok
        await conn.execute(
            "UPDATE contact_messages SET body = '请勿离开' WHERE attempt_id = $1 AND idx = 3",
            attempt.attempt_id,
        )
        broken = await audit_chain.verify(conn, attempt.attempt_id)
    assert not broken.ok and broken.broken is not None and broken.broken.kind == "message"
