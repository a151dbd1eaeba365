"""Secrets in URLs never reach the logs (issue #9).

Devices authenticate their websocket with a token in the query string
(``/ws/pc?token=…``); uvicorn logs each request line and each websocket
handshake with the full query.  ``RedactQueryTokens`` is a logging filter for
uvicorn's loggers that replaces the value of every secret-looking query
parameter with ``[redacted]`` before a handler formats the record.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMS = ("token", "access_token", "code", "csrf", "password", "secret", "key", "sig")
REDACTED = "[redacted]"
_QUERY_SECRET = re.compile(
    r"([?&](?:[A-Za-z0-9_.-]*_)?(?:" + "|".join(SECRET_PARAMS) + r")=)[^&#\s\"']*",
    re.IGNORECASE,
)

# uvicorn's request lines go to ``uvicorn.access``; its websocket handshakes to ``uvicorn.error``.
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with the values of secret query parameters replaced."""
    return _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)


class RedactQueryTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Attach the filter to uvicorn's loggers, once however often it is called."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQueryTokens) for f in logger.filters):
            logger.addFilter(RedactQueryTokens())
