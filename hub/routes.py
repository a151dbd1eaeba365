"""Websocket routes of the realtime hub."""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute

from hub.ws import device_socket

routes: list[BaseRoute] = [
    WebSocketRoute("/ws/{device:str}", device_socket),
]
