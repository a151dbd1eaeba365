"""Device tokens never reach the logs (issue #9): uvicorn's request and websocket lines."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from proctor.log_redaction import LOGGERS, REDACTED, RedactQueryTokens, redact
from tests.support.live import LiveServer

SECRET = "dEvIcE-ToKeN-1234567890abcdef"


class RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def recording_uvicorn_logs() -> Iterator[RecordingHandler]:
    """uvicorn's loggers at INFO for the block, their lines recorded as formatted."""
    handler = RecordingHandler()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


async def test_access_log_redacts_query_tokens(server: LiveServer) -> None:
    with recording_uvicorn_logs() as logs:
        async with httpx.AsyncClient(base_url=server.url) as client:
            await client.get(f"/static/pc.html?attempt=7&token={SECRET}")
        with contextlib.suppress(WebSocketException, OSError):
            async with connect(f"{server.ws_url}/ws/pc?token={SECRET}") as ws:
                await ws.recv()
    text = "\n".join(logs.lines)
    assert "/static/pc.html?attempt=7&token=" + REDACTED in text  # the request line is kept
    assert "/ws/pc?token=" + REDACTED in text  # the websocket handshake line
    assert SECRET not in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /ws/pc?token=abc HTTP/1.1", "GET /ws/pc?token=[redacted] HTTP/1.1"),
        ("/x?a=1&device_token=abc&b=2", "/x?a=1&device_token=[redacted]&b=2"),
        ("/x?access_token=abc#frag", "/x?access_token=[redacted]#frag"),
        ("/x?attempt=12", "/x?attempt=12"),
        ("/x?tokens=3", "/x?tokens=3"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_filter_rewrites_uvicorn_style_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/ws/phone?token={SECRET}", "1.1", 101),
        None,
    )
    assert RedactQueryTokens().filter(record)
    assert SECRET not in record.getMessage()
    assert record.args is not None and record.args[-1] == 101
