"""A test double of the SMS sender interface (rule A4): keeps what it was asked to send."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingSmsSender:
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (phone, purpose, text)

    async def send(self, conn: Any, phone: str, text: str, purpose: str, now: dt.datetime) -> None:
        self.sent.append((phone, purpose, text))
