"""A candidate device as the session sees it: presence, outages (rule H1) and
its camera's state (rules D1, H2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SCREEN = "screen"  # the PC's screen share: the PC peer's second video (rule J1)


class Camera(StrEnum):
    OFF = "off"  # never started
    LIVE = "live"
    LOST = "lost"  # stopped sending (track ended, muted, no packets)
    ASLEEP = "asleep"  # rule H2: the phone went to sleep or left the page


@dataclass
class Device:
    connected: bool = False
    connected_at: float | None = None
    outage_since: float | None = None  # rule H1: set while disconnected after a first connect
    outages: int = 0
    camera: Camera = Camera.OFF
    camera_since: float | None = None
    conn: str | None = None  # the connection that holds the device now

    def to_dict(self) -> dict[str, Any]:
        return {
            "c": self.connected,
            "ca": self.connected_at,
            "o": self.outage_since,
            "on": self.outages,
            "cam": self.camera.value,
            "cs": self.camera_since,
            "cn": self.conn,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Device:
        return cls(
            connected=bool(data["c"]),
            connected_at=data["ca"],
            outage_since=data["o"],
            outages=int(data["on"]),
            camera=Camera(data["cam"]),
            camera_since=data["cs"],
            conn=data.get("cn"),
        )
