"""uvicorn's httptools protocol with a deadline and a size cap on request headers (issue #9).

uvicorn times out only an *idle* keep-alive connection, and any byte that
arrives resets that timer: a client that connects and sends its headers a
byte at a time (slowloris), or never sends them, holds the connection for
ever: 1000 such half-open requests stayed open for a minute.  httptools also
sets no bound on the size of the headers.

This subclass arms a timer whenever the connection waits for a request's
headers (on connect, and after each response) that bytes do not reset; only
the end of the headers stops it.  When it fires the connection gets a 408 (or
is closed, if no header byte came at all, e.g. while the rest of a refused
body was being skipped).  Headers that pass the byte cap get 431; the
connection then skips what the client still sends until it closes or the
deadline fires, so that a reset does not destroy the 431 before it is read.
Everything else is uvicorn's.  It hooks into four methods of
``HttpToolsProtocol`` (``connection_made``, ``data_received``,
``on_headers_complete``, ``on_response_complete``); ``tests/proctor/
test_http_limits.py`` breaks if an uvicorn upgrade changes them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout_s: ClassVar[float] = 10.0
    max_header_bytes: ClassVar[int] = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._awaiting_headers = False
        self._in_body = False  # the parser is inside a request body (maybe one being skipped)
        self._discarding = False  # refused: read and drop until the client or the timer closes

    # --------------------------------------------------------- uvicorn's hooks

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if self._awaiting_headers and not self._in_body:
            self._header_bytes += len(data)
        super().data_received(data)
        # Judged after parsing: a first packet may hold small headers and a body.
        if self._awaiting_headers and self._header_bytes > self.max_header_bytes:
            self._refuse_and_discard(431, "header_too_large", "请求头过大")

    def on_headers_complete(self) -> None:
        self._stop_waiting()
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Waiting for the next request, unless a pipelined one is already parsed.
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._await_headers()

    # --------------------------------------------------------- the deadline

    def _await_headers(self) -> None:
        self._stop_waiting()
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _stop_waiting(self) -> None:
        self._awaiting_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._header_bytes and not self._discarding:
            self._write_refusal(408, "header_timeout", "请求超时：网络太慢或连接中断，请重试")
        self.transport.close()  # idle, skipping a refused body, or answered just now

    def _refuse_and_discard(self, status: int, code: str, message: str) -> None:
        self._write_refusal(status, code, message)
        self._discarding = True  # the header timer still runs and closes the connection
        if self.transport.can_write_eof():
            self.transport.write_eof()

    def _write_refusal(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": code, "message": message}, ensure_ascii=False).encode()
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        self.transport.write(
            b"HTTP/1.1 %d %s\r\n" % (status, reason)
            + b"content-type: application/json\r\n"
            + b"content-length: %d\r\n" % len(body)
            + b"connection: close\r\n\r\n"
            + body
        )


def guarded_protocol(header_timeout_s: float, max_header_bytes: int) -> type[HttpToolsProtocol]:
    """A protocol class with these limits, for ``uvicorn.Config(http=...)``."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"header_timeout_s": header_timeout_s, "max_header_bytes": max_header_bytes},
    )
