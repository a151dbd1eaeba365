"""A test client of the hub's websocket protocol, and attempts made directly
in the database with their device tokens."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import websockets
from websockets.asyncio.client import ClientConnection

from hub.live import Hub, LiveAttempt
from hub.tokens import sign_device_token
from proctor.settings import Settings
from tests.support.users import create_class_with_paper, create_user

RECV_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class HubAttempt:
    attempt_id: int
    user_id: int
    pc_token: str
    phone_token: str


async def new_attempt(
    pool: asyncpg.Pool, settings: Settings, time_limit_s: int = 3600
) -> HubAttempt:
    """A candidate, a class with a paper, and a running attempt of it."""
    user = await create_user(pool)
    paper_id = await create_class_with_paper(pool, [user.id], time_limit_s=time_limit_s)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        attempt_id: int = await conn.fetchval(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
               VALUES ($1, $2, $3, $4) RETURNING id""",
            user.id,
            paper_id,
            now,
            now + timedelta(seconds=time_limit_s),
        )
    t = time.time()
    return HubAttempt(
        attempt_id=attempt_id,
        user_id=user.id,
        pc_token=sign_device_token(settings.secret_key, attempt_id, "pc", t, 3600),
        phone_token=sign_device_token(settings.secret_key, attempt_id, "phone", t, 3600),
    )


async def pc_connected(
    hub: Hub, pool: asyncpg.Pool, settings: Settings
) -> tuple[HubAttempt, LiveAttempt, float]:
    """A new running attempt, loaded in ``hub``, its PC connected (as ``c1``) at
    the returned time ``t0``: where the hub's integration tests start."""
    attempt = await new_attempt(pool, settings)
    live = await hub.attempt(attempt.attempt_id)
    t0 = time.time()
    await hub.apply(live, lambda s: s.connect("pc", t0, "c1"), "pc", 1, now=t0)
    return attempt, live, t0


@dataclass
class DeviceClient:
    """One device's socket: hello, numbered messages, acks, server messages."""

    ws: ClientConnection
    device: str
    welcome: dict[str, Any]
    seq: int = 0
    inbox: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def connect(
        cls, ws_url: str, device: str, token: str, resume: bool = False, seq: int = 0
    ) -> DeviceClient:
        ws = await websockets.connect(f"{ws_url}/ws/{device}?token={token}", max_size=None)
        await ws.send(json.dumps({"type": "hello", "v": 1, "last_seen": 0, "resume": resume}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
        assert welcome["type"] == "welcome", welcome
        return cls(ws=ws, device=device, welcome=welcome, seq=seq)

    async def send(self, kind: str, **fields: Any) -> int:
        """Send a numbered message; returns its seq (no wait for the ack)."""
        self.seq += 1
        await self.ws.send(json.dumps({"type": kind, "seq": self.seq, **fields}))
        return self.seq

    async def resend(self, seq: int, kind: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"type": kind, "seq": seq, **fields}))

    async def recv(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), RECV_TIMEOUT_S))
        self.inbox.append(message)
        return message

    async def wait_for(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next server message of this type (and fields), skipping others."""
        for message in self.inbox:
            if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
                self.inbox.remove(message)
                return message
        while True:
            message = await self.recv()
            if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
                self.inbox.remove(message)
                return message

    async def wait_for_forever(self, kind: str) -> dict[str, Any]:
        """The next server message of this type, however long it takes (a
        simulated device waiting for requests; cancel the task to stop)."""
        while True:
            try:
                return await self.wait_for(kind)
            except TimeoutError:
                continue

    async def call(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a message and wait for its ack (or an error naming its seq)."""
        seq = await self.send(kind, **fields)
        while True:
            message = await self.recv()
            if message["type"] in ("ack", "error") and message.get("seq") == seq:
                self.inbox.remove(message)
                return message

    async def closed(self) -> tuple[int, str]:
        """Read until the server closes; returns its close code and reason."""
        try:
            while True:
                await self.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason

    async def close(self) -> None:
        await self.ws.close()
