"""Websocket routes of the realtime hub."""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute

from hub.ws import any_device_socket, pc_socket, phone_socket, watch_socket

routes: list[BaseRoute] = [
    WebSocketRoute("/ws/pc", pc_socket),
    WebSocketRoute("/ws/phone", phone_socket),
    WebSocketRoute("/ws/watch", watch_socket),
    WebSocketRoute("/ws/{device:str}", any_device_socket),
]
