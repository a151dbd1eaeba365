"""How uvicorn serves the app: one configuration for ``proctor serve``, the
tests' live servers and the benchmarks, so all of them measure the same thing."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import uvicorn
from starlette.types import ASGIApp

from hub.protocol import MAX_PHOTO_BYTES, PHOTO_HEADER


def server_config(
    app: ASGIApp,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    trusted_proxies: Sequence[str] = (),
    own_logging: bool = False,
) -> uvicorn.Config:
    """uvicorn's configuration; ``trusted_proxies`` (``PROCTOR_TRUSTED_PROXIES``) are the
    only peers whose X-Forwarded-For/-Proto headers set the client address and scheme;
    ``own_logging``: the process configured logging itself (``proctor/logs.py``)."""
    return uvicorn.Config(
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
    )
