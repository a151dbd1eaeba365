"""How much a client may send, and how slowly: the HTTP limits, read once (issue #9).

Every limit has an environment variable (README, configuration table) and a
default that a candidate on a slow phone connection never meets:

=================================  =========  =============================================
variable                           default    bounds
=================================  =========  =============================================
``PROCTOR_HTTP_MAX_BODY``          1 MiB      a JSON API request body (upload routes have
                                              their own documented caps)
``PROCTOR_HTTP_MAX_HEADER_BYTES``  64 KiB     request line and headers together
``PROCTOR_HTTP_HEADER_TIMEOUT``    10 s       from connection (or the previous response)
                                              to the end of the request's headers
``PROCTOR_HTTP_BODY_TIMEOUT``      30 s       from the headers to the end of a JSON body
``PROCTOR_HTTP_UPLOAD_TIMEOUT``    120 s      the same for uploads (10 MB at 0.7 Mbit/s)
``PROCTOR_HTTP_KEEP_ALIVE``        5 s        an idle keep-alive connection
``PROCTOR_HTTP_MAX_CONNECTIONS``   16384      connections and tasks per process (beyond:
                                              503); a hub process holds 10,000 websockets
=================================  =========  =============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class HttpSettingsError(ValueError):
    """A malformed HTTP limit; the message names the variable."""


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    upload_timeout_s: float = 120.0
    keep_alive_s: int = 5
    max_connections: int = 16384


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise HttpSettingsError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise HttpSettingsError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def load_http_limits(env: Mapping[str, str]) -> HttpLimits:
    """The limits from an environment mapping; defaults for what it does not set."""
    d = HttpLimits()
    return HttpLimits(
        max_body_bytes=int(_number(env, "PROCTOR_HTTP_MAX_BODY", d.max_body_bytes, 1024, 1 << 30)),
        max_header_bytes=int(
            _number(env, "PROCTOR_HTTP_MAX_HEADER_BYTES", d.max_header_bytes, 4096, 1 << 20)
        ),
        header_timeout_s=_number(env, "PROCTOR_HTTP_HEADER_TIMEOUT", d.header_timeout_s, 0.1, 600),
        body_timeout_s=_number(env, "PROCTOR_HTTP_BODY_TIMEOUT", d.body_timeout_s, 0.1, 3600),
        upload_timeout_s=_number(env, "PROCTOR_HTTP_UPLOAD_TIMEOUT", d.upload_timeout_s, 0.1, 3600),
        keep_alive_s=int(_number(env, "PROCTOR_HTTP_KEEP_ALIVE", d.keep_alive_s, 1, 600)),
        max_connections=int(
            _number(env, "PROCTOR_HTTP_MAX_CONNECTIONS", d.max_connections, 16, 1_000_000)
        ),
    )
