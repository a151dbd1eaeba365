"""Capture ids: the name of one moment's dual snapshot (rules E2, H10).

A capture is one moment: the PC frame and the phone photo taken for it share
its id, and a violation's capture carries the violation's index, so the
evidence is linked to the violation by id, never by a time window.

    <attempt>.<reason>.<issued ms>            a random, start, return … capture
    <attempt>.violation.<issued ms>.<index>   the capture of violation <index>

Ids are made on the server only (the session for violations, the ingest's
random schedule) and travel between server processes; a client never sends
one (the phone answers a capture *request* by its number, and the session
keeps the id). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

# identity: the PC frame of a face check try (rule I2, exam_api/identity_check.py)
REASONS = (
    "random",
    "start",
    "violation",
    "return_to_page",
    "manual",
    "camera_check",
    "identity",
)


@dataclass(frozen=True, slots=True)
class CaptureId:
    attempt_id: int
    reason: str
    issued_ms: int
    violation: int | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown capture reason {self.reason!r}")
        if (self.violation is not None) != (self.reason == "violation"):
            raise ValueError("a violation capture carries its index, and only it")

    @property
    def issued_at(self) -> float:
        return self.issued_ms / 1000

    def __str__(self) -> str:
        text = f"{self.attempt_id}.{self.reason}.{self.issued_ms}"
        return text if self.violation is None else f"{text}.{self.violation}"

    @classmethod
    def new(
        cls, attempt_id: int, reason: str, now: float, violation: int | None = None
    ) -> CaptureId:
        # floor: an id issued at the moment of the end is never after it (H10)
        return cls(attempt_id, reason, int(now * 1000), violation)

    @classmethod
    def parse(cls, text: str) -> CaptureId | None:
        """The id ``text`` names, or None when it is not a capture id."""
        parts = text.split(".")
        if len(parts) not in (3, 4) or not all(p.isdigit() for p in parts[:1] + parts[2:]):
            return None
        try:
            return cls(
                int(parts[0]), parts[1], int(parts[2]), int(parts[3]) if len(parts) == 4 else None
            )
        except ValueError:
            return None
