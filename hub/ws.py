"""Skeleton websocket endpoint: ``/ws/{device}?token=…`` for the PC tab and the phone.

Each text message is a JSON object with a ``seq`` and a ``type``; heartbeats
land in the attempt's Redis stream (rule G3) and are acknowledged by ``seq``.
"""

from __future__ import annotations

import json
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from hub.errors import TokenError
from hub.keys import STREAM_MAXLEN
from hub.tokens import verify_device_token
from proctor.resources import resources

CLOSE_BAD_TOKEN = 4401
CLOSE_WRONG_DEVICE = 4403


async def device_socket(ws: WebSocket) -> None:
    res = resources(ws)
    device = ws.path_params["device"]
    await ws.accept()
    try:
        claim = verify_device_token(
            res.settings.secret_key, ws.query_params.get("token", ""), time.time()
        )
    except TokenError as exc:
        await ws.close(CLOSE_BAD_TOKEN, exc.reason)
        return
    if claim.device != device:
        await ws.close(CLOSE_WRONG_DEVICE, f"token is for the {claim.device}, not the {device}")
        return
    stream = res.keys.events(claim.attempt_id)
    await res.redis.sadd(res.keys.active_streams(), stream)
    await ws.send_json({"type": "hello", "attempt_id": claim.attempt_id, "device": device})
    try:
        while True:
            msg = json.loads(await ws.receive_text())
            if msg.get("type") == "heartbeat":
                await res.redis.xadd(
                    stream,
                    {
                        "device": device,
                        "kind": "heartbeat",
                        "at": str(int(time.time() * 1000)),
                        "data": json.dumps({"seq": msg.get("seq")}),
                    },
                    maxlen=STREAM_MAXLEN,
                    approximate=True,
                )
                await ws.send_json({"type": "ack", "seq": msg.get("seq")})
    except WebSocketDisconnect:
        return
