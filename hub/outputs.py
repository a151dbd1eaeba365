"""What one step of the session state machine produces: messages to send, to
which audience, and records to write (durable ones before the client's ack)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# "rtc": a command for the process that holds the attempt's PC camera peer
# (webrtc/commands.py), delivered by the same commit as the rest.
Audience = Literal["pc", "phone", "devices", "watchers", "all", "rtc"]


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
    # The clock ended the attempt before the event could apply: the event
    # itself is void (not stored, so never acknowledged), the end stands.
    void: bool = False

    def extend(self, other: Outputs) -> None:
        self.sends.extend(other.sends)
        self.records.extend(other.records)
        self.void = self.void or other.void

    @property
    def durable(self) -> list[Record]:
        return [r for r in self.records if r.durable]
