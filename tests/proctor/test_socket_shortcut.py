"""The device sockets' short way past the middleware (proctor/socket_shortcut.py).

The whole app is exercised through it by the hub's and the browser's tests
(every ``/ws/pc`` and ``/ws/phone`` goes this way); here, what goes where."""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocket

from proctor.socket_shortcut import SocketShortcut


async def _receive() -> dict[str, Any]:
    return {"type": "websocket.disconnect"}


async def _send(message: dict[str, Any]) -> None:
    pass


async def test_device_sockets_go_to_their_handler_and_the_rest_to_the_app() -> None:
    reached: list[tuple[str, str]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        reached.append(("app", f"{scope['type']} {scope['path']}"))

    async def pc(ws: WebSocket) -> None:
        reached.append(("pc", ws.url.path))

    shortcut = SocketShortcut(app, handlers={"/ws/pc": pc})
    for kind, path in (("websocket", "/ws/pc"), ("websocket", "/ws/watch"), ("http", "/ws/pc")):
        scope = {"type": kind, "path": path, "headers": [], "query_string": b""}
        if kind == "websocket":
            scope |= {"scheme": "ws", "server": ("127.0.0.1", 80)}
        await shortcut(scope, _receive, _send)
    assert reached == [
        ("pc", "/ws/pc"),
        ("app", "websocket /ws/watch"),  # few, and through the router as before
        ("app", "http /ws/pc"),  # HTTP keeps its headers, guard and router
    ]
