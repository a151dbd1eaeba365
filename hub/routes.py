"""Websocket routes of the realtime hub."""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute

from hub.ws import any_device_socket, pc_socket, phone_socket, watch_socket

# The device sockets, thousands per process: served past the middleware
# (proctor/socket_shortcut.py); their routes below stay for the router's
# own URL matching and for an app built without the shortcut.
device_sockets = {"/ws/pc": pc_socket, "/ws/phone": phone_socket}

routes: list[BaseRoute] = [
    WebSocketRoute("/ws/pc", pc_socket),
    WebSocketRoute("/ws/phone", phone_socket),
    WebSocketRoute("/ws/watch", watch_socket),
    WebSocketRoute("/ws/{device:str}", any_device_socket),
]
