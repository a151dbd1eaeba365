"""Who is sitting, during the exam (rule I3). Pure.

Every random PC snapshot is compared with the candidate
(``webrtc/face_match.py`` writes ``snapshots.face_match``). One odd frame
means little — a head turned, a hand, the light — so a flag is raised only
when ``k`` scored snapshots *in a row* show someone else (or several people)
or nobody. A flag raises the wall tile's risk and is an item of the
timeline; it never ends or pauses the exam: the invigilator decides.

A match of ``same`` ends a run; ``unclear`` and ``no_reference`` neither
count nor break one (they say nothing about who sits there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Flag = Literal["someone_else", "nobody"]
BAD = {"other": "someone_else", "several": "someone_else", "nobody": "nobody"}
LABELS: dict[str, str] = {
    "someone_else": "连续多张抓拍中不是考生本人",
    "nobody": "连续多张抓拍中没有人",
}
# the PC snapshots that count: the random schedule's and the start's (I2's tries are the check's)
WATCHED_REASONS = ("random", "start")


@dataclass(frozen=True, slots=True)
class Scored:
    """One scored PC snapshot, oldest first."""

    snapshot_id: int
    t: float
    match: str


@dataclass(frozen=True, slots=True)
class Run:
    """``k`` or more bad snapshots in a row: raised at the k-th's time."""

    flag: Flag
    t: float
    snapshot_ids: tuple[int, ...]
    ongoing: bool  # nothing has ended the run yet


def runs(snapshots: Iterable[Scored], k: int) -> list[Run]:
    """Every flagged run in these snapshots (oldest first)."""
    assert k >= 1
    out: list[Run] = []
    current: list[Scored] = []

    def close(ongoing: bool) -> None:
        if len(current) >= k:
            kinds = {BAD[s.match] for s in current}
            flag: Flag = "someone_else" if "someone_else" in kinds else "nobody"
            out.append(Run(flag, current[k - 1].t, tuple(s.snapshot_id for s in current), ongoing))

    for shot in snapshots:
        if shot.match in BAD:
            current.append(shot)
        elif shot.match == "same":
            close(False)
            current = []
    close(True)
    return out


def current_flag(latest_first: list[str], k: int) -> Flag | None:
    """The wall's flag from the newest matches (newest first): the last ``k``
    that say something about who sits there are all bad."""
    telling = [m for m in latest_first if m in BAD or m == "same"][:k]
    if len(telling) < k or any(m == "same" for m in telling):
        return None
    return "someone_else" if any(BAD[m] == "someone_else" for m in telling) else "nobody"
