"""Two-way contact through the hub (rule L1) on the real PostgreSQL and Redis:
two app instances sharing them stand for two hub processes."""

from __future__ import annotations

import json

import asyncpg
import pytest

from hub.contact import CANDIDATE_LIMIT, CATCH_UP_BATCH, Contact
from proctor.settings import Settings
from tests.support.contact import no_running_attempt_left, server_b
from tests.support.hub_client import DeviceClient, HubAttempt, new_attempt
from tests.support.live import LiveServer
from tests.support.pools import FakeRefusingPool
from tests.support.users import create_user

__all__ = ["no_running_attempt_left", "server_b"]


@pytest.fixture
async def attempt(pool: asyncpg.Pool, settings: Settings) -> HubAttempt:
    return await new_attempt(pool, settings)


async def _staff_says(server: LiveServer, pool: asyncpg.Pool, attempt_id: int, text: str) -> int:
    """An invigilator's message stored and told by ``server``'s process."""
    invigilator = await create_user(pool, role="invigilator")
    [message] = await server.hub.contact.from_staff(
        [attempt_id], invigilator.id, "text", text, server.hub.clock.now()
    )
    return message.index


async def _rows(pool: asyncpg.Pool, attempt_id: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            """SELECT idx, sender, kind, device, body, user_id FROM contact_messages
                WHERE attempt_id = $1 ORDER BY idx""",
            attempt_id,
        )
    return rows


async def test_a_call_from_the_pc_reaches_the_phone_on_another_process(
    server: LiveServer, server_b: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # rule L1: stored in PostgreSQL, told to every device whichever process holds it
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    phone = await DeviceClient.connect(server_b.ws_url, "phone", attempt.phone_token)
    try:
        assert (await pc.wait_for("messages"))["items"] == []
        assert (await phone.wait_for("messages"))["items"] == []
        assert (await pc.call("call", cid="c1"))["type"] == "ack"
        told = await phone.wait_for("message")
        assert (told["from"], told["kind"], told["device"], told["index"]) == (
            "candidate",
            "call",
            "pc",
            1,
        )
        assert (await pc.wait_for("message"))["index"] == 1  # the sender's echo
    finally:
        await pc.close()
        await phone.close()
    [row] = await _rows(pool, attempt.attempt_id)
    assert (row["sender"], row["kind"], row["device"]) == ("candidate", "call", "pc")


async def test_a_message_sent_while_offline_comes_on_reconnect_and_only_once(
    server: LiveServer, server_b: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # rule L1: never lost, never shown twice (ids and the device's acknowledged cursor)
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    assert (await phone.wait_for("messages"))["after"] == 0
    first = await _staff_says(server_b, pool, attempt.attempt_id, "请调整手机位置")
    live = await phone.wait_for("message")
    assert (live["index"], live["text"], live["from"]) == (first, "请调整手机位置", "invigilator")
    assert (await phone.call("seen", upto=first))["type"] == "ack"
    await phone.close()

    second = await _staff_says(server_b, pool, attempt.attempt_id, "请回到考试页面")  # offline
    phone = await DeviceClient.connect(
        server_b.ws_url, "phone", attempt.phone_token, resume=True, seq=phone.seq
    )
    try:
        batch = await phone.wait_for("messages")
        assert batch["after"] == first
        assert [(m["index"], m["text"]) for m in batch["items"]] == [(second, "请回到考试页面")]
        # dropped before its ack: the next connection gets it again, nothing else
        phone.ws.transport.abort()
    finally:
        await phone.close()
    phone = await DeviceClient.connect(
        server.ws_url, "phone", attempt.phone_token, resume=True, seq=phone.seq
    )
    try:
        batch = await phone.wait_for("messages")
        assert [m["index"] for m in batch["items"]] == [second]
        assert (await phone.call("seen", upto=second))["type"] == "ack"
    finally:
        await phone.close()
    phone = await DeviceClient.connect(
        server_b.ws_url, "phone", attempt.phone_token, resume=True, seq=phone.seq
    )
    try:
        batch = await phone.wait_for("messages")
        assert (batch["after"], batch["items"], batch["more"]) == (second, [], False)
    finally:
        await phone.close()
    # the PC acknowledged nothing: it has its own cursor and gets both
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        assert [m["index"] for m in (await pc.wait_for("messages"))["items"]] == [first, second]
    finally:
        await pc.close()


async def test_a_resent_message_is_stored_once(
    server: LiveServer, server_b: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # rule L1 / H1: the same client id after a reconnect (and a new seq) is one message
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    assert (await pc.call("say", cid="m-1", text="题目第3题看不清"))["type"] == "ack"
    await pc.close()
    pc = await DeviceClient.connect(
        server_b.ws_url, "pc", attempt.pc_token, resume=True, seq=pc.seq
    )
    try:
        again = await pc.call("say", cid="m-1", text="题目第3题看不清")
        assert again == {"type": "ack", "seq": pc.seq, "n": again["n"]}
    finally:
        await pc.close()
    rows = await _rows(pool, attempt.attempt_id)
    assert [(r["idx"], r["body"]) for r in rows] == [(1, "题目第3题看不清")]
    # the last-index hint a connecting device reads before asking PostgreSQL
    hint = await server.hub.redis.get(server.hub.keys.contact(attempt.attempt_id))
    assert hint == b"1"


async def test_without_messages_a_connecting_device_asks_only_redis(
    server: LiveServer, attempt: HubAttempt
) -> None:
    # a connect storm costs no PostgreSQL query for contact: no hint, cursor 0
    hub = server.hub
    assert not await hub.redis.exists(hub.keys.contact(attempt.attempt_id))
    contact = Contact(FakeRefusingPool(), hub.redis, hub.keys, hub.clock)  # type: ignore[arg-type]
    assert await contact.catch_up(attempt.attempt_id, "pc") == {
        "type": "messages",
        "after": 0,
        "items": [],
        "more": False,
    }


async def test_a_long_catch_up_comes_in_batches(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # nothing unbounded: a batch at most CATCH_UP_BATCH, the next after its ack
    invigilator = await create_user(pool, role="invigilator")
    now = server.hub.clock.now()
    for i in range(CATCH_UP_BATCH + 3):
        await server.hub.contact.from_staff(
            [attempt.attempt_id], invigilator.id, "text", f"{i}", now
        )
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    try:
        first = await phone.wait_for("messages")
        assert (len(first["items"]), first["more"]) == (CATCH_UP_BATCH, True)
        assert (await phone.call("seen", upto=CATCH_UP_BATCH))["type"] == "ack"
        rest = await phone.wait_for("messages")
        assert [m["index"] for m in rest["items"]] == [
            CATCH_UP_BATCH + 1,
            CATCH_UP_BATCH + 2,
            CATCH_UP_BATCH + 3,
        ]
        assert rest["more"] is False
    finally:
        await phone.close()


# ----- hostile clients ------------------------------------------------------------


async def test_a_candidate_cannot_spoof_the_sender_or_reach_another_attempt(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool, settings: Settings
) -> None:
    # rule L1: the token says whose attempt and which device; the frame's word is ignored
    other = await new_attempt(pool, settings)
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        spoofed = {
            "type": "say",
            "seq": pc.seq + 1,
            "cid": "x1",
            "text": "我是监考员",
            "attempt_id": other.attempt_id,
            "from": "invigilator",
            "sender": "invigilator",
            "kind": "answered",
            "scope": "room",
            "user_id": 1,
        }
        pc.seq += 1
        await pc.ws.send(json.dumps(spoofed))
        assert (await pc.wait_for("ack", seq=pc.seq))["type"] == "ack"
        await pc.send("answered", cid="x2")  # the invigilators' kind: not a device's message
        assert (await pc.wait_for("error"))["code"] == "unknown_type"
    finally:
        await pc.close()
    [row] = await _rows(pool, attempt.attempt_id)
    assert (row["sender"], row["kind"], row["device"], row["user_id"]) == (
        "candidate",
        "text",
        "pc",
        None,
    )
    assert await _rows(pool, other.attempt_id) == []


async def test_a_candidate_cannot_flood(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # nothing unbounded: CANDIDATE_LIMIT a minute per attempt, PC and phone together
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    try:
        for i in range(CANDIDATE_LIMIT):
            device = pc if i % 2 else phone
            assert (await device.call("say", cid=f"f{i}", text=f"消息{i}"))["type"] == "ack"
        refused = await pc.call("say", cid="over", text="再来一条")
        assert (refused["type"], refused["code"]) == ("error", "rate_limited")
        refused = await phone.call("call", cid="over2")
        assert (refused["type"], refused["code"]) == ("error", "rate_limited")
        assert (await pc.call("heartbeat"))["type"] == "ack"  # the connection stays
    finally:
        await pc.close()
        await phone.close()
    assert len(await _rows(pool, attempt.attempt_id)) == CANDIDATE_LIMIT


async def test_a_device_cannot_skip_messages_by_acknowledging_ahead(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    # the server believes what it stored: the cursor stops at the last index
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    assert (await phone.call("seen", upto=1000))["type"] == "ack"
    await phone.close()
    later = await _staff_says(server, pool, attempt.attempt_id, "请注意")
    phone = await DeviceClient.connect(
        server.ws_url, "phone", attempt.phone_token, resume=True, seq=phone.seq
    )
    try:
        assert [m["index"] for m in (await phone.wait_for("messages"))["items"]] == [later]
    finally:
        await phone.close()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"cid": "a b", "text": "x"}, "bad_field"),
        ({"cid": "ok", "text": "   "}, "bad_field"),
        ({"cid": "ok", "text": "长" * 501}, "bad_field"),
        ({"cid": "ok"}, "bad_field"),
        ({"cid": "ok", "text": 5}, "bad_field"),
    ],
)
async def test_bad_messages_are_refused_with_a_reason(
    server: LiveServer,
    attempt: HubAttempt,
    pool: asyncpg.Pool,
    fields: dict[str, object],
    code: str,
) -> None:
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        await pc.send("say", **fields)
        error = await pc.wait_for("error")
        assert error["code"] == code and "'" in error["reason"]
    finally:
        await pc.close()
    assert await _rows(pool, attempt.attempt_id) == []


async def test_no_message_after_the_end(
    server: LiveServer, attempt: HubAttempt, pool: asyncpg.Pool
) -> None:
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        assert (await pc.call("submit"))["type"] == "ack"
        await phone.wait_for("ended")
        refused = await phone.call("say", cid="late", text="交卷后还能说话吗")
        assert (refused["type"], refused["code"]) == ("error", "ended")
    finally:
        await pc.close()
        await phone.close()
    assert await _rows(pool, attempt.attempt_id) == []
