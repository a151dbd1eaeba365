"""How uvicorn serves the app: one configuration for ``proctor serve``, the
tests' live servers and the benchmarks, so all of them measure the same thing.

The HTTP limits (issue #9, ``proctor/http_settings.py``) are applied here:
a deadline and a size cap on request headers (``proctor/http_protocol.py``),
the keep-alive timeout, the connection cap, and the log filter that keeps
device tokens out of the logs.  Body sizes and body deadlines are the app's
``BodyGuard`` (``proctor/http_guard.py``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import uvicorn
from starlette.types import ASGIApp

from hub.protocol import MAX_PHOTO_BYTES, PHOTO_HEADER
from proctor import log_redaction
from proctor.http_protocol import guarded_protocol
from proctor.http_settings import HttpLimits


def server_config(
    app: ASGIApp,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    limits: HttpLimits | None = None,
    trusted_proxies: Sequence[str] = (),
    own_logging: bool = False,
) -> uvicorn.Config:
    """uvicorn's configuration. ``limits``: the HTTP limits (``Settings.http``);
    ``trusted_proxies`` (``PROCTOR_TRUSTED_PROXIES``) are the only peers whose
    X-Forwarded-For/-Proto headers set the client address and scheme;
    ``own_logging``: the process configured logging itself (``proctor/logs.py``)."""
    http = limits or HttpLimits()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if sys.platform == "linux" else "asyncio",
        ws="websockets-sansio",
        # Browsers ask for permessage-deflate; it costs ≈45 KiB per socket
        # instead of ≈13 KiB (FIELD-NOTES) for small JSON messages: off.
        ws_per_message_deflate=False,
        # The largest frame the protocol allows: a phone photo and its header;
        # anything bigger is closed with 1009 before it is read.
        ws_max_size=PHOTO_HEADER.size + MAX_PHOTO_BYTES,
        backlog=4096,
        # uvicorn would otherwise trust X-Forwarded-For from any loopback peer
        # (FORWARDED_ALLOW_IPS), and rate limits key on the client address: only the
        # configured proxies are believed, nobody by default.
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies),
        log_level=log_level,
        log_config=None if own_logging else uvicorn.config.LOGGING_CONFIG,
        lifespan="on",
        http=guarded_protocol(http.header_timeout_s, http.max_header_bytes),
        timeout_keep_alive=http.keep_alive_s,
        # the same cap if the h11 protocol is ever chosen instead of httptools
        h11_max_incomplete_event_size=http.max_header_bytes,
        limit_concurrency=http.max_connections,
    )
    log_redaction.install()  # after uvicorn configured its loggers
    return config
