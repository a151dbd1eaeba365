"""Structured logs (rule O2): one JSON object a line, with the process and,
inside a device's connection, the attempt and the device on every line.

The websocket adapter binds the attempt and device of its connection
(:func:`bind`); everything logged while it runs — by the hub, the stores, a
library — carries them, through ``contextvars`` (each asyncio task has its own).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

_attempt: contextvars.ContextVar[int | None] = contextvars.ContextVar("attempt", default=None)
_device: contextvars.ContextVar[str | None] = contextvars.ContextVar("device", default=None)


@contextlib.contextmanager
def bind(attempt_id: int, device: str) -> Iterator[None]:
    """Tag every log line of this task (and the tasks it starts) with the connection."""
    a, d = _attempt.set(attempt_id), _device.set(device)
    try:
        yield
    finally:
        _attempt.reset(a)
        _device.reset(d)


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def __init__(self, role: str = "serve") -> None:
        super().__init__()
        self._process = {"role": role, "pid": os.getpid(), "host": socket.gethostname()}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "process": self._process,
        }
        attempt, device = _attempt.get(), _device.get()
        if attempt is not None:
            line["attempt"] = attempt
        if device is not None:
            line["device"] = device
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(log_format: str, role: str = "serve") -> None:
    """The root logger for the whole process: ``text`` (people) or ``json``."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(role))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
