"""hub/ws.py's Connection: the reader's own acks go out at once when nothing
is queued before them, and never overtake what is queued (issue #16: one task
wake-up less per message, the order of a connection's messages unchanged)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.websockets import WebSocketState

from hub.protocol import ClientProtocol, ack_text, encode
from hub.ws import Connection


class RecordingSocket:
    """The websocket side of a Connection: records what is sent."""

    def __init__(self, fail: bool = False) -> None:
        self.application_state = WebSocketState.CONNECTED
        self.sent: list[Any] = []
        self.fail = fail

    async def send_text(self, text: str) -> None:
        if self.fail:
            raise OSError("the peer is gone")
        self.sent.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.sent.append(("close", code))


def connection(ws: RecordingSocket) -> Connection:
    return Connection(ws, "pc", ClientProtocol("pc"))  # type: ignore[arg-type]


async def test_an_ack_with_nothing_queued_is_sent_at_once_and_numbered() -> None:
    ws = RecordingSocket()
    conn = connection(ws)
    await conn.reply(ack_text(7))
    assert ws.sent == [{"n": 1, "type": "ack", "seq": 7}]
    assert conn.queue.empty()  # the writer had nothing to wake up for


async def test_an_ack_never_overtakes_a_queued_message() -> None:
    ws = RecordingSocket()
    conn = connection(ws)
    conn.push_text(encode({"type": "state", "x": 1}))  # fanned out, not yet written
    await conn.reply(ack_text(8))
    writer = asyncio.create_task(conn.writer())
    conn.finish(1000, "done")
    await writer
    assert ws.sent == [
        {"n": 1, "type": "state", "x": 1},
        {"n": 2, "type": "ack", "seq": 8},
        ("close", 1000),
    ]


async def test_an_ack_that_cannot_be_sent_closes_the_connection() -> None:
    ws = RecordingSocket(fail=True)
    conn = connection(ws)
    await conn.reply(ack_text(9))
    assert conn.closing is not None and conn.closing.code == 1001
