"""What one step of the session state machine produces: messages to send, to
which audience, and records to write (durable ones before the client's ack)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Audience = Literal["pc", "phone", "devices", "watchers", "all"]


@dataclass(frozen=True)
class Send:
    """A server message for an audience."""

    to: Audience
    message: dict[str, Any]


@dataclass(frozen=True)
class Record:
    """Something to write down. ``durable`` records (violations, ends, early
    phone end, forgiveness) go to PostgreSQL before the client's ack; the rest
    is telemetry that reaches PostgreSQL through the persistence worker."""

    kind: str
    device: str | None
    at: float
    data: dict[str, Any]
    durable: bool = False


@dataclass
class Outputs:
    sends: list[Send] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def extend(self, other: Outputs) -> None:
        self.sends.extend(other.sends)
        self.records.extend(other.records)

    @property
    def durable(self) -> list[Record]:
        return [r for r in self.records if r.durable]
