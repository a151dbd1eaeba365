"""A real HTTP receiver of webhooks for the tests (rule M4): a tiny Starlette
app on uvicorn that checks each request's HMAC-SHA256 signature itself
(not with the code under test) and keeps what it received."""

from __future__ import annotations

import asyncio
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Received:
    delivery_id: str
    event: str
    body: dict[str, Any]
    signed: bool


@dataclass
class WebhookReceiver:
    secret: str
    port: int
    status: int = 200  # the answer it gives
    received: list[Received] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _signed(self, header: str, raw: bytes) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        mac = hmac.new(self.secret.encode(), parts.get("t", "").encode() + b"." + raw, "sha256")
        return hmac.compare_digest(parts.get("v1", ""), mac.hexdigest())

    async def _hook(self, request: Request) -> Response:
        raw = await request.body()
        self.received.append(
            Received(
                delivery_id=request.headers.get("x-proctor-delivery", ""),
                event=request.headers.get("x-proctor-event", ""),
                body=json.loads(raw),
                signed=self._signed(request.headers.get("x-proctor-signature", ""), raw),
            )
        )
        return JSONResponse({"ok": self.status < 300}, status_code=self.status)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the receiver stopped before it started")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

    def of_attempt(self, attempt_id: int) -> list[Received]:
        return [r for r in self.received if r.body["data"].get("attempt_id") == attempt_id]
