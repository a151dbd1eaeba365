"""Resource exhaustion over real sockets (issue #9): body caps, body and header deadlines.

The caps are judged by behaviour: the server answers 413 while the client
still has most of its body to send.  The deadlines run against a second live
server configured with one-second bounds: a client that trickles is answered
408 and disconnected; the generous ``wait_for`` around each read only keeps a
broken server from hanging the suite, it is not what is asserted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from proctor.http_settings import HttpLimits
from proctor.settings import Settings
from tests.support.accounts import clear_rate_limits, unique_phone
from tests.support.live import LiveServer, start_live_server
from tests.support.users import create_user, login_cookies

MiB = 1024 * 1024
NEVER = 60.0  # a bound on waiting, far above the configured one-second deadlines


class CountingBody:
    """A request body of ``total`` bytes in 1 MiB chunks that counts what it handed out."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b"x" * MiB
        while self.sent < self.total:
            self.sent += len(chunk)
            yield chunk


# ---------------------------------------------------------------- body size


async def _send_until_answered(
    live: LiveServer, head: bytes, chunk: bytes, total: int
) -> tuple[int, dict[str, str], int]:
    """Send ``head`` then ``chunk`` after ``chunk`` while reading; stop once answered.

    Returns the status, the JSON body and how many body bytes had been sent
    when the answer came.
    """
    reader, writer = await _open(live)
    answer = asyncio.create_task(_read_response(reader))
    sent = 0
    try:
        writer.write(head)
        while sent < total and not answer.done():
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
        status, body = await asyncio.wait_for(answer, timeout=NEVER)
    finally:
        answer.cancel()
        writer.close()
    return status, body, sent


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return int(head.split(b" ", 2)[1]), json.loads(await reader.readexactly(length))


async def test_300_mb_login_is_answered_413_before_it_is_sent(server: LiveServer) -> None:
    total = 300 * MiB
    head = b"POST /api/auth/login HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % total
    status, body, sent = await _send_until_answered(server, head, b"x" * MiB, total)
    assert (status, body["error"]) == (413, "body_too_large")
    assert "过大" in body["message"]
    assert sent < total // 2  # the answer came while most of the body was still to send


async def test_chunked_body_is_answered_413_once_it_passes_the_cap(server: LiveServer) -> None:
    """No Content-Length: the guard counts the bytes as they stream in."""
    total = 300 * MiB
    head = b"POST /api/auth/login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n" % MiB + b"x" * MiB + b"\r\n"
    status, body, sent = await _send_until_answered(server, head, chunk, total)
    assert (status, body["error"]) == (413, "body_too_large")
    assert sent < total // 2


@pytest.mark.parametrize("declared", [True, False])
async def test_httpx_streaming_client_reads_the_413(server: LiveServer, declared: bool) -> None:
    """A client that reads only after sending still gets the answer, not a reset connection."""
    body = CountingBody(32 * MiB)
    headers = {"content-length": str(body.total)} if declared else {}
    async with httpx.AsyncClient(base_url=server.url, timeout=NEVER) as client:
        r = await client.post("/api/auth/login", content=body, headers=headers)
    assert (r.status_code, r.json()["error"]) == (413, "body_too_large")
    assert "content-security-policy" in r.headers  # the guard's answers carry them too


async def test_upload_route_has_its_own_larger_cap_and_code(server: LiveServer) -> None:
    """5 MB is too much for a JSON API but within the 10 MB upload cap; 11 MB is not."""
    big = CountingBody(11 * MiB)
    async with httpx.AsyncClient(base_url=server.url, timeout=NEVER) as client:
        login = await client.post("/api/auth/login", content=b"x" * (5 * MiB))
        small = await client.post("/api/uploads", content=b"x" * (5 * MiB))
        refused = await client.post(
            "/api/uploads", content=big, headers={"content-length": str(big.total)}
        )
    assert (login.status_code, login.json()["error"]) == (413, "body_too_large")
    assert small.status_code == 401  # past the guard: the handler wants a signed-in user
    assert (refused.status_code, refused.json()["error"]) == (413, "upload_too_large")
    assert "10 MB" in refused.json()["message"]


async def test_a_body_under_the_cap_reaches_the_handler(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post("/api/auth/login", content=b'{"x": "' + b"a" * 900_000 + b'"}')
    assert r.status_code == 400 and r.json()["error"] != "body_too_large"


# ---------------------------------------------------------------- deadlines


@pytest.fixture(scope="module")
async def strict_server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The app with one-second header and body deadlines."""
    limits = HttpLimits(header_timeout_s=1.0, body_timeout_s=1.0, upload_timeout_s=1.0)
    live = await start_live_server(dataclasses.replace(settings, http=limits))
    yield live
    await live.stop()


async def _open(live: LiveServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = live.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def _trickle(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    for i in range(len(data)):
        writer.write(data[i : i + 1])
        await writer.drain()
        await asyncio.sleep(every)


async def _answer_and_close(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and JSON body of the response, read until the server closes."""
    raw = await asyncio.wait_for(reader.read(), timeout=NEVER)  # read() returns at EOF only
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


async def _slowly(live: LiveServer, first: bytes, trickled: bytes) -> tuple[int, dict[str, str]]:
    reader, writer = await _open(live)
    writer.write(first)
    trickler = asyncio.create_task(_trickle(writer, trickled, every=0.3))
    try:
        return await _answer_and_close(reader)
    finally:
        trickler.cancel()
        writer.close()
        try:
            await trickler
        except (asyncio.CancelledError, ConnectionError):
            pass


async def test_a_body_sent_a_byte_at_a_time_is_answered_408(strict_server: LiveServer) -> None:
    head = b"POST /api/auth/login HTTP/1.1\r\nHost: t\r\nContent-Length: 10000\r\n\r\n"
    status, body = await _slowly(strict_server, head, b"{" + b" " * 9999)
    assert (status, body["error"]) == (408, "body_timeout")
    assert "超时" in body["message"]


async def test_a_slow_upload_is_answered_408(strict_server: LiveServer, pool: asyncpg.Pool) -> None:
    """A signed-in candidate's upload, a byte at a time: the upload deadline ends it."""
    await clear_rate_limits(pool)
    user = await create_user(pool, phone=unique_phone())
    login = await login_cookies(pool, user.id)
    cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
    head = (
        "POST /api/uploads?name=a.pdf HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
        f"Cookie: {cookie}\r\nX-CSRF-Token: {login.csrf_token}\r\n\r\n"
    ).encode()
    status, body = await _slowly(strict_server, head, b"%PDF-1.4\n" + b" " * 4990)
    assert (status, body["error"]) == (408, "body_timeout")


async def test_headers_sent_a_byte_at_a_time_are_answered_408(strict_server: LiveServer) -> None:
    status, body = await _slowly(
        strict_server, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: " + b"a" * 10_000
    )
    assert (status, body["error"]) == (408, "header_timeout")


async def test_a_connection_that_sends_nothing_is_closed(strict_server: LiveServer) -> None:
    reader, writer = await _open(strict_server)
    try:
        assert await asyncio.wait_for(reader.read(), timeout=NEVER) == b""  # EOF, no answer
    finally:
        writer.close()


async def test_an_idle_keep_alive_connection_cannot_be_held_by_trickling(
    strict_server: LiveServer,
) -> None:
    """uvicorn's keep-alive timer restarts on every byte; the header deadline does not."""
    reader, writer = await _open(strict_server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=NEVER)
    assert first.startswith(b"HTTP/1.1 200")
    trickler = asyncio.create_task(_trickle(writer, b"GET /healthz HTTP/1.1\r\n" * 100, 0.3))
    try:
        rest = await asyncio.wait_for(reader.read(), timeout=NEVER)
        assert b"header_timeout" in rest
    finally:
        trickler.cancel()
        writer.close()


async def test_huge_headers_are_answered_431(server: LiveServer) -> None:
    reader, writer = await _open(server)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (200 * 1024))
        await writer.drain()
        status, body = await _answer_and_close(reader)
    finally:
        writer.close()
    assert (status, body["error"]) == (431, "header_too_large")


async def test_normal_requests_pass_the_strict_server(strict_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=strict_server.url) as client:
        for _ in range(3):  # one keep-alive connection, three requests
            assert (await client.get("/healthz")).status_code == 200
        r = await client.post("/api/auth/login", json={"username": "x", "password": "y"})
        assert r.status_code != 408
