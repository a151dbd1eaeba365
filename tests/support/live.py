"""A real uvicorn server running the app in the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from proctor.app import create_app
from proctor.server import server_config
from proctor.settings import Settings


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
        await asyncio.wait_for(self.task, timeout=15)


async def start_live_server(settings: Settings, log_level: str = "warning") -> LiveServer:
    """Serve ``create_app(settings)`` on a free loopback port; return once it is up."""
    port = free_port()
    app = create_app(settings)
    config = server_config(app, "127.0.0.1", port, log_level=log_level, limits=settings.http)
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
