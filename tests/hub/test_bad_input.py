"""Bad input on the live hub: each gets a close code or an error with a
reason; the hub and the other sessions keep running; state stays consistent."""

from __future__ import annotations

import io
import json

import asyncpg
import pytest
import websockets
from PIL import Image

from exam_api.assignments import assign, attempt_class_id
from hub.protocol import MAX_TEXT_BYTES, encode_photo
from hub.tokens import sign_device_token
from proctor.settings import Settings
from tests.support.hub_client import DeviceClient, HubAttempt, new_attempt
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.users import create_user, login_cookies

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64  # starts like a JPEG, is none


def real_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
async def attempt(pool: asyncpg.Pool, settings: Settings) -> HubAttempt:
    return await new_attempt(pool, settings)


async def _closed(url: str, *frames: str | bytes) -> tuple[int, str]:
    async with websockets.connect(url, max_size=None) as ws:
        for frame in frames:
            await ws.send(frame)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def _hello() -> str:
    return json.dumps({"type": "hello", "v": 1, "last_seen": 0})


async def test_token_for_another_device_or_a_forged_one_is_refused(
    server: LiveServer, attempt: HubAttempt, settings: Settings
) -> None:
    code, reason = await _closed(f"{server.ws_url}/ws/phone?token={attempt.pc_token}")
    assert code == 4403 and "wrong_device" in reason
    forged = attempt.pc_token[:-4] + "0000"
    code, reason = await _closed(f"{server.ws_url}/ws/pc?token={forged}")
    assert code == 4401 and reason
    expired = sign_device_token(settings.secret_key, attempt.attempt_id, "pc", 1_000_000.0, 60)
    code, reason = await _closed(f"{server.ws_url}/ws/pc?token={expired}")
    assert code == 4401 and "expired" in reason


async def test_token_for_an_attempt_that_does_not_exist(
    server: LiveServer, settings: Settings
) -> None:
    token = sign_device_token(settings.secret_key, 987_654_321, "pc", 2_000_000_000.0, 60)
    code, reason = await _closed(f"{server.ws_url}/ws/pc?token={token}", _hello())
    assert code == 4403 and "no_attempt" in reason


async def test_protocol_violations_close_with_their_codes(
    server: LiveServer, attempt: HubAttempt
) -> None:
    pc_url = f"{server.ws_url}/ws/pc?token={attempt.pc_token}"
    phone_url = f"{server.ws_url}/ws/phone?token={attempt.phone_token}"
    # not hello first
    code, reason = await _closed(pc_url, json.dumps({"type": "heartbeat", "seq": 1}))
    assert code == 1008 and "hello_first" in reason
    # binary where text is expected
    code, reason = await _closed(pc_url, _hello(), encode_photo(1, 1, JPEG))
    assert code == 1003 and "binary_not_expected" in reason
    # oversized text frame
    big = json.dumps({"type": "heartbeat", "seq": 1, "pad": "x" * MAX_TEXT_BYTES})
    code, reason = await _closed(pc_url, _hello(), big)
    assert code == 1009
    # a flood of messages
    flood = [json.dumps({"type": "heartbeat", "seq": n}) for n in range(1, 400)]
    code, reason = await _closed(phone_url, _hello(), *flood)
    assert code == 1008 and "rate_limited" in reason


async def test_errors_keep_the_connection_and_the_state(
    server: LiveServer, attempt: HubAttempt
) -> None:
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        for frame in (
            "{not json",
            json.dumps({"type": "teleport", "seq": 1}),
            json.dumps({"type": "phone_start", "seq": 1}),
            json.dumps({"type": "focus", "seq": 1, "state": "lost", "cause": "mouse"}),
            json.dumps({"type": "heartbeat", "seq": 5}),
        ):
            await pc.ws.send(frame)
            error = await pc.wait_for("error")
            assert error["code"] and error["reason"]
        # the connection is alive and the numbering intact
        assert (await pc.call("heartbeat"))["type"] == "ack"
        assert (await pc.call("click_outside"))["type"] == "ack"
        state = await pc.wait_for("state", violations=1)
        assert state["status"] == "running"
        # a replayed seq is acknowledged again and not counted twice
        await pc.resend(2, "click_outside")
        ack = await pc.wait_for("ack", seq=2)
        assert ack["duplicate"] is True
        assert (await pc.call("heartbeat"))["type"] == "ack"
    finally:
        await pc.close()


async def test_a_bad_client_does_not_disturb_another_session(
    server: LiveServer, pool: asyncpg.Pool, settings: Settings, attempt: HubAttempt
) -> None:
    other = await new_attempt(pool, settings)
    good = await DeviceClient.connect(server.ws_url, "pc", other.pc_token)
    try:
        flood = [json.dumps({"type": "heartbeat", "seq": n}) for n in range(1, 400)]
        await _closed(f"{server.ws_url}/ws/pc?token={attempt.pc_token}", _hello(), *flood)
        assert (await good.call("heartbeat"))["type"] == "ack"
    finally:
        await good.close()


async def test_photo_for_an_unknown_capture_is_refused(
    server: LiveServer, attempt: HubAttempt
) -> None:
    phone = await DeviceClient.connect(server.ws_url, "phone", attempt.phone_token)
    try:
        phone.seq += 1
        await phone.ws.send(encode_photo(phone.seq, 99, JPEG))
        error = await phone.wait_for("error", seq=phone.seq)
        assert error["code"] == "unknown_capture"
        # an answered capture request is acknowledged
        assert (await phone.call("phone_start"))["type"] == "ack"
        capture = await phone.wait_for("capture")
        # a photo that is not a whole JPEG is refused and stores nothing
        phone.seq += 1
        await phone.ws.send(encode_photo(phone.seq, capture["request_id"], JPEG))
        assert (await phone.wait_for("error", seq=phone.seq))["code"] == "bad_photo"
        phone.seq += 1
        await phone.ws.send(encode_photo(phone.seq, capture["request_id"], real_jpeg()))
        assert (await phone.wait_for("ack", seq=phone.seq))["type"] == "ack"
    finally:
        await phone.close()


async def _cookie(pool: asyncpg.Pool, user_id: int) -> str:
    login = await login_cookies(pool, user_id)
    return "; ".join(f"{k}={v}" for k, v in login.cookies.items())


async def test_watch_needs_an_invigilator_of_the_room_and_sees_the_end(
    server: LiveServer, pool: asyncpg.Pool, attempt: HubAttempt
) -> None:
    # rule G5 / H4: the invigilators of the attempt's room (and admins) watch
    # live; candidates and invigilators of other rooms may not
    url = f"{server.ws_url}/ws/watch?attempt={attempt.attempt_id}"
    code, _ = await _closed(url)
    assert code == 4401
    cookie = await _cookie(pool, attempt.user_id)
    async with websockets.connect(url, additional_headers={"Cookie": cookie}) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    stranger = await create_user(pool, role="invigilator")  # assigned to no room of this attempt
    cookie = await _cookie(pool, stranger.id)
    for path in ("/ws/watch", "/ws/invigilate"):
        watch_url = f"{server.ws_url}{path}?attempt={attempt.attempt_id}"
        async with websockets.connect(watch_url, additional_headers={"Cookie": cookie}) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None, path
        assert closed.value.rcvd.code == 4403 and "not_your_room" in closed.value.rcvd.reason

    invigilator = await create_user(pool, role="invigilator")
    async with pool.acquire() as conn:
        class_id = await attempt_class_id(conn, attempt.attempt_id)
        assert class_id is not None
        await assign(conn, class_id, invigilator.id)
    admin = await create_user(pool, role="admin")  # every room, no assignment
    pc = await DeviceClient.connect(server.ws_url, "pc", attempt.pc_token)
    try:
        headers = {"Cookie": await _cookie(pool, admin.id)}
        async with websockets.connect(url, additional_headers=headers) as watch:
            assert json.loads(await watch.recv())["type"] == "state"
        headers = {"Cookie": await _cookie(pool, invigilator.id)}
        async with websockets.connect(url, additional_headers=headers) as watch:
            first = json.loads(await watch.recv())
            assert first["type"] == "state" and first["attempt_id"] == attempt.attempt_id
            # rule H3: no unaudited command path — the socket refuses commands,
            # with or without a reason, and points to the audited HTTP ones
            for command in (
                {"type": "warn", "text": "请保持面部在画面内"},
                {"type": "end", "note": "监考结束"},
                {"type": "end", "reason": "替考"},
            ):
                await watch.send(json.dumps(command))
                reply = json.loads(await watch.recv())
                while reply["type"] != "error":
                    reply = json.loads(await watch.recv())
                assert reply["code"] == "use_http_commands"
                assert f"/api/invigilate/attempts/{attempt.attempt_id}/" in reply["reason"]
            await pc.call("click_outside")
            async with await client_for(server.url, pool, invigilator.id) as http:
                path = f"/api/invigilate/attempts/{attempt.attempt_id}/end"
                assert (await http.post(path, json={})).status_code == 400  # a reason is required
                done = await http.post(path, json={"reason": "监考结束"})
                assert done.status_code == 200
            seen = []
            while "ended" not in seen:
                message = json.loads(await watch.recv())
                seen.append(message["type"])
            assert "violation" in seen
            assert (await pc.wait_for("ended"))["reason"] == "invigilator"
    finally:
        await pc.close()
    async with pool.acquire() as conn:
        audit = await conn.fetch(
            "SELECT user_id, action, reason FROM invigilator_actions WHERE attempt_id = $1",
            attempt.attempt_id,
        )
    # the allowed command is audited; the refused socket commands left nothing
    assert [tuple(r) for r in audit] == [(invigilator.id, "end", "监考结束")]
