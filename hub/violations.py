"""The violation ledger of one attempt (rules E3 and H3).

One switch away is one violation: the browser fires ``blur``,
``visibilitychange`` and ``pagehide`` for a single switch, in any order and a
few milliseconds apart. Every departure signal that arrives while the ledger
is *away* (a violation is open, no ``back`` since) joins that violation. A
``back`` closes it, and the next departure is a new violation however short
the return was: no time window after a return forgives a re-departure, so a
candidate cannot leave again and again for the price of one (rule E3).

A click outside the paper counts too (rule E3), with two single-use joins
that cannot buy a departure (``debounce_s`` bounds both):

- a departure right after a click that counted on its own (a click on a link
  that takes the page away) joins that click's violation: the click paid it;
- a click right after a return (the click that brought the window back,
  landing outside the paper) joins the violation just closed, once.

Each violation records its kind, the signals that made it, and how long the
candidate was away.

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

    # Bounds only the two click joins (module docstring); never a re-departure.
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

    @property
    def _last(self) -> Violation | None:
        return self.violations[-1] if self.violations else None

    def _paid_by_click(self, now: float) -> Violation | None:
        """The last violation if it is a lone click outside the paper, counted
        just now: a departure at ``now`` is the one that click caused."""
        last = self._last
        if last is None or last.causes != [CLICK_OUTSIDE]:
            return None
        return last if now - last.started_at <= self.debounce_s else None

    def _returned_by_click(self, now: float) -> Violation | None:
        """The violation just closed by a ``back``, if a click at ``now`` is
        the click that brought the window back (joins once)."""
        last = self._last
        if last is None or last.ended_at is None or CLICK_OUTSIDE in last.causes:
            return None
        return last if now - last.ended_at <= self.debounce_s else None

    def away(self, cause: str, now: float) -> Violation | None:
        """The page left the paper. Returns the new violation, or ``None`` when
        the signal joined the current one (rule H3: one switch, one violation).
        After a ``back`` every departure is a new violation (rule E3)."""
        if cause not in AWAY_CAUSES:
            raise NotAllowed("bad_cause", f"unknown focus cause {cause!r}")
        joined = self.current or self._paid_by_click(now)
        if joined is None:
            return self._open(cause, now, ended_at=None)
        if cause not in joined.causes:
            joined.causes.append(cause)
        joined.ended_at = None  # away now, until the next ``back``
        return None

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
        joined = self.current or self._returned_by_click(now)
        if joined is None:
            return self._open(CLICK_OUTSIDE, now, ended_at=now)
        if CLICK_OUTSIDE not in joined.causes:
            joined.causes.append(CLICK_OUTSIDE)
        return None

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
