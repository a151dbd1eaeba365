"""Request bodies read under a size cap and a deadline, for every route (issue #9).

Without it a handler reads the whole body before it can judge its size (an
anonymous 300 MB login POST took the process from 226 to 764 MB), and a body
sent a byte at a time holds a connection for as long as the client likes.

``BodyGuard`` is a pure ASGI middleware around the app's ``receive``:

* a declared ``Content-Length`` over the route's cap is answered 413 at once,
  before one byte of the body is read;
* bytes are counted as they arrive (chunked bodies too) and the request is
  answered 413 as soon as the count passes the cap;
* the whole body must arrive within the route's deadline, else 408.

The refusal is sent by the guard itself, in the API's error shape
(``{"error": code, "message": …}``).  The app's ``receive`` then raises
``BodyRefused``; whatever the app still sends is dropped.  Once the body is
complete, ``receive`` passes through untouched (a response that waits for the
client to disconnect is not timed).

After a 413 the connection stays open: uvicorn's parser skips the rest of the
body without keeping it, and the header deadline (``http_protocol``) bounds
how long.  Closing at once would reset a connection whose client is still
sending, and a reset loses the 413 before the client has read it.  After a
408 the client is slow by definition: ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class BodyRule:
    """The cap and deadline of one class of routes, and how its refusal reads."""

    max_bytes: int
    timeout_s: float
    too_large_code: str = "body_too_large"
    too_large_message: str = ""

    def too_large(self) -> tuple[str, str]:
        message = self.too_large_message or f"请求内容过大（上限 {_size(self.max_bytes)}）"
        return self.too_large_code, message


@dataclass(frozen=True)
class BodyLimits:
    """The default rule and the exceptions to it, by path (a full-match regex), first wins."""

    default: BodyRule
    routes: Sequence[tuple[re.Pattern[str], BodyRule]] = ()

    def for_path(self, path: str) -> BodyRule:
        for pattern, rule in self.routes:
            if pattern.fullmatch(path):
                return rule
        return self.default


TIMEOUT_CODE = "body_timeout"
TIMEOUT_MESSAGE = "上传超时：网络太慢或连接中断，请检查网络后重试"


class BodyRefused(Exception):
    """Raised from ``receive`` once the guard has answered for the app."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code


class BodyGuard:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self.limits.for_path(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > rule.max_bytes:
            await _refuse(send, 413, *rule.too_large(), close=False)
            return
        guarded = _GuardedBody(receive, send, rule)
        try:
            await self.app(scope, guarded.receive, guarded.send)
        except BodyRefused:
            pass  # the refusal is already on its way to the client


class _GuardedBody:
    """One request's ``receive``/``send`` pair under a rule."""

    def __init__(self, receive: Receive, send: Send, rule: BodyRule) -> None:
        self._receive = receive
        self._send = send
        self._rule = rule
        self._deadline = asyncio.get_running_loop().time() + rule.timeout_s
        self._received = 0
        self._complete = False
        self._started = False
        self._refused: BodyRefused | None = None

    async def receive(self) -> Message:
        if self._refused is not None:
            raise self._refused
        if self._complete:
            return await self._receive()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            await self._fail(408, TIMEOUT_CODE, TIMEOUT_MESSAGE)
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._rule.max_bytes:
                await self._fail(413, *self._rule.too_large())
            if not message.get("more_body", False):
                self._complete = True
        return message

    async def send(self, message: Message) -> None:
        if self._refused is not None:
            return  # the guard has answered; the app's late response goes nowhere
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)

    async def _fail(self, status: int, code: str, message: str) -> None:
        self._refused = BodyRefused(status, code)
        if not self._started:
            await _refuse(self._send, status, code, message, close=status == 408)
        raise self._refused


async def _refuse(send: Send, status: int, code: str, message: str, *, close: bool) -> None:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    return f"{n // 1024} KB"
