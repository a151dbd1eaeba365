"""The violation ledger of one attempt (rules E3 and H3).

One switch away is one violation: the browser fires ``blur``,
``visibilitychange`` and ``pagehide`` for a single switch, in any order and a
few milliseconds apart, and may flicker back and away again. Every signal that
arrives while a violation is open, or within ``debounce_s`` of the last one's
start or end, joins that violation instead of opening a new one. A click
outside the paper counts too (rule E3). Each violation records its kind, the
signals that made it, and how long the candidate was away.

Pure: no I/O, time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.errors import NotAllowed

# Signals the PC page reports. "visibility" is document.visibilitychange to
# hidden, "pagehide" the pagehide event, "blur" the window losing focus.
AWAY_CAUSES = frozenset({"blur", "visibility", "pagehide"})
CLICK_OUTSIDE = "click_outside"
CAUSES = AWAY_CAUSES | {CLICK_OUTSIDE}

# Violation kinds, strongest first.
KIND_TAB_HIDDEN = "tab_hidden"
KIND_WINDOW_BLUR = "window_blur"
KIND_CLICK_OUTSIDE = "click_outside"

DEFAULT_DEBOUNCE_S = 1.0


@dataclass
class Violation:
    """One counted violation."""

    index: int
    started_at: float
    causes: list[str]
    ended_at: float | None = None
    forgiven_by: int | None = None

    @property
    def kind(self) -> str:
        if "visibility" in self.causes or "pagehide" in self.causes:
            return KIND_TAB_HIDDEN
        if "blur" in self.causes:
            return KIND_WINDOW_BLUR
        return KIND_CLICK_OUTSIDE

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    @property
    def forgiven(self) -> bool:
        return self.forgiven_by is not None

    def duration_s(self, now: float) -> float:
        """Seconds away: up to ``now`` while still open."""
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, end - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "i": self.index,
            "s": self.started_at,
            "e": self.ended_at,
            "c": list(self.causes),
            "f": self.forgiven_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Violation:
        return cls(
            index=int(data["i"]),
            started_at=float(data["s"]),
            ended_at=None if data["e"] is None else float(data["e"]),
            causes=[str(c) for c in data["c"]],
            forgiven_by=None if data.get("f") is None else int(data["f"]),
        )


@dataclass
class ViolationLedger:
    """Turns focus signals into counted violations."""

    debounce_s: float = DEFAULT_DEBOUNCE_S
    violations: list[Violation] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Violations that count: all but the forgiven ones."""
        return sum(1 for v in self.violations if not v.forgiven)

    @property
    def current(self) -> Violation | None:
        """The open violation (the candidate is away now), if any."""
        if self.violations and self.violations[-1].is_open:
            return self.violations[-1]
        return None

    def _joins_last(self, now: float) -> Violation | None:
        """The last violation if a signal at ``now`` belongs to it (H3 debounce)."""
        if not self.violations:
            return None
        last = self.violations[-1]
        if last.is_open:
            return last
        assert last.ended_at is not None
        if now - last.started_at <= self.debounce_s or now - last.ended_at <= self.debounce_s:
            return last
        return None

    def away(self, cause: str, now: float) -> Violation | None:
        """The page left the paper. Returns the new violation, or ``None`` when
        the signal joined the current one (rule H3: one switch, one violation)."""
        if cause not in AWAY_CAUSES:
            raise NotAllowed("bad_cause", f"unknown focus cause {cause!r}")
        joined = self._joins_last(now)
        if joined is not None:
            if cause not in joined.causes:
                joined.causes.append(cause)
            # A flicker back and away again within the window re-opens it.
            joined.ended_at = None
            return None
        return self._open(cause, now, ended_at=None)

    def back(self, now: float) -> Violation | None:
        """The page is back on the paper. Returns the violation it closes, if any."""
        current = self.current
        if current is None:
            return None
        current.ended_at = max(now, current.started_at)
        return current

    def click_outside(self, now: float) -> Violation | None:
        """A click outside the paper (rule E3): a violation of no duration,
        unless it belongs to the switch being counted already."""
        joined = self._joins_last(now)
        if joined is not None:
            if CLICK_OUTSIDE not in joined.causes:
                joined.causes.append(CLICK_OUTSIDE)
            return None
        return self._open(CLICK_OUTSIDE, now, ended_at=now)

    def close_open(self, now: float) -> Violation | None:
        """Close the open violation at the end of the attempt."""
        return self.back(now)

    def forgive(self, index: int, by_user: int) -> Violation:
        """An invigilator forgives one violation (rule H3); audited by the caller."""
        for violation in self.violations:
            if violation.index == index:
                if violation.forgiven:
                    raise NotAllowed("already_forgiven", f"violation {index} is already forgiven")
                violation.forgiven_by = by_user
                return violation
        raise NotAllowed("no_such_violation", f"no violation {index}")

    def _open(self, cause: str, now: float, ended_at: float | None) -> Violation:
        violation = Violation(
            index=len(self.violations) + 1, started_at=now, causes=[cause], ended_at=ended_at
        )
        self.violations.append(violation)
        return violation

    def to_dict(self) -> dict[str, Any]:
        return {"d": self.debounce_s, "v": [v.to_dict() for v in self.violations]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViolationLedger:
        return cls(
            debounce_s=float(data["d"]),
            violations=[Violation.from_dict(v) for v in data["v"]],
        )
