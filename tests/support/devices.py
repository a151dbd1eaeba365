"""Both candidate devices connected with their cameras live (rule D1), for tests
whose subject is answering rather than the devices themselves."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from tests.support.hub_client import DeviceClient


class Devices:
    """Keeps every device socket a test opened; the fixture closes them at teardown."""

    def __init__(self) -> None:
        self.stack = AsyncExitStack()

    async def live(self, ws_url: str, start: dict[str, Any]) -> tuple[DeviceClient, DeviceClient]:
        """Connect the PC and the phone of the attempt ``start`` (the start call's
        answer) and report both cameras live, as the pages do once they are."""
        pc = await DeviceClient.connect(ws_url, "pc", start["pc_token"])
        self.stack.push_async_callback(pc.close)
        phone = await DeviceClient.connect(ws_url, "phone", start["phone_token"])
        self.stack.push_async_callback(phone.close)
        for device in (pc, phone):
            ack = await device.call("camera", state="live")
            assert ack["type"] == "ack", ack
        return pc, phone

    async def aclose(self) -> None:
        await self.stack.aclose()
