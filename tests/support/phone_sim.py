"""A phone that joins an attempt over the hub's websocket with its camera
live (rule D1) and keeps its heartbeats going, for browser tests of the PC
page that are not about the phone."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from hub.tokens import sign_device_token
from tests.support.devices import phone_proves_camera
from tests.support.hub_client import DeviceClient

HEARTBEAT_S = 5.0


@contextlib.asynccontextmanager
async def live_phone(ws_url: str, secret: bytes, attempt_id: int) -> AsyncIterator[DeviceClient]:
    """The attempt's phone, connected, started, camera live, until the block ends."""
    token = sign_device_token(secret, attempt_id, "phone", time.time(), 3600)
    phone = await DeviceClient.connect(ws_url, "phone", token)
    await phone_proves_camera(phone)

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await phone.send("heartbeat")

    async def drain() -> None:  # read what the hub sends, so nothing piles up
        with contextlib.suppress(Exception):
            while True:
                await phone.ws.recv()

    tasks = [asyncio.create_task(beat()), asyncio.create_task(drain())]
    try:
        yield phone
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await phone.close()
