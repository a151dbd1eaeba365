"""A real uvicorn server running the app in the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from exam_api.sms import SmsSender
from hub.live import Hub
from hub.session import Rules
from proctor.app import ROLES, create_app
from proctor.clock import Clock
from proctor.server import server_config
from proctor.settings import Settings
from proctor.state import Base
from webrtc.ingest import PeerRegistry
from webrtc.live_video import LiveViewers
from webrtc.recordings import RecordingStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    ws_url: str
    app: Starlette
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        # the app bounds its own shutdown (proctor/app.py STOP_TIMEOUT_S per part)
        await asyncio.wait_for(self.task, timeout=90)

    # What the wiring built, for tests that read a component (never swap one).
    @property
    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.server.lifespan.state  # type: ignore[attr-defined]
        return state

    @property
    def base(self) -> Base:
        value: Base = self._state["base"]
        return value

    @property
    def hub(self) -> Hub:
        value: Hub = self._state["hub"]
        return value

    @property
    def rtc(self) -> PeerRegistry:
        value: PeerRegistry = self._state["rtc"]
        return value

    @property
    def recordings(self) -> RecordingStore:
        value: RecordingStore = self._state["recordings"]
        return value

    @property
    def viewers(self) -> LiveViewers:
        value: LiveViewers = self._state["viewers"]
        return value


async def start_live_server(
    settings: Settings,
    clock: Clock | None = None,
    rules: Rules | None = None,
    sms_sender: SmsSender | None = None,
    roles: frozenset[str] = frozenset(ROLES),
    port: int | None = None,
    log_level: str = "warning",
) -> LiveServer:
    """Serve ``create_app(settings)`` on ``port`` (a free loopback port by default);
    return once it is up."""
    port = port or free_port()
    app = create_app(settings, clock, rules, sms_sender, roles)
    config = server_config(
        app,
        "127.0.0.1",
        port,
        log_level=log_level,
        limits=settings.http,
        trusted_proxies=settings.trusted_proxies,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.02)
    return LiveServer(
        url=f"http://127.0.0.1:{port}",
        ws_url=f"ws://127.0.0.1:{port}",
        app=app,
        server=server,
        task=task,
    )
