"""The device sockets' short way in: ``/ws/pc`` and ``/ws/phone`` straight to
their handlers, past the app's middleware and router.

Every ASGI layer a websocket passes through keeps a suspended frame for the
connection's whole life. Starlette's router, its exception middleware and
handler wrapper, and the two HTTP middlewares (``SecurityHeaders``,
``BodyGuard``: both pass websockets through untouched) cost about 5 KiB per
socket, a sixth of the hub's memory per connection at 5,000 sessions
(issue #16; ``bench/hub_load.py --memory-profile``). The device handlers
need none of it: they take their token, answer their own errors with close
codes and read the hub from the lifespan state, which uvicorn puts in the
scope. Everything else, ``/ws/watch`` included, goes the usual way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

SocketHandler = Callable[[WebSocket], Awaitable[None]]


class SocketShortcut:
    """ASGI middleware: websockets on one of ``handlers``' exact paths go to the
    handler; every other scope to ``app``."""

    def __init__(self, app: ASGIApp, *, handlers: Mapping[str, SocketHandler]) -> None:
        self.app = app
        self.handlers = dict(handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            handler = self.handlers.get(scope["path"])
            if handler is not None:
                await handler(WebSocket(scope, receive, send))
                return
        await self.app(scope, receive, send)
