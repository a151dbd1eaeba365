"""When a sitting (场次) lets a candidate in, and how rooms (考场) are filled
(rule M1). Pure: times in, decisions out.

A sitting of a paper has a start, an end, a late-entry cut-off and an
identity-check window before the start:

- from ``starts_at - checkin_s`` the candidate may enter: the exam page opens
  for the device check and the cameras (rules D1, D7), the questions stay
  hidden and no answer is taken until ``starts_at``;
- up to ``starts_at + late_entry_s`` (never past the end) a late candidate
  may still enter; after that the paper no longer opens;
- every attempt of the sitting ends at ``ends_at`` (as in an exam hall: a late
  candidate has less time), cut at the paper's own close.

Rooms hold at most :data:`MAX_ROOM` candidates, one invigilator each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

MAX_ROOM = 30  # rule M1: at most 30 candidates per invigilator

# Candidates read times in Beijing time (no daylight saving), whatever the server's zone.
BEIJING = timezone(timedelta(hours=8), "北京时间")


def when(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class Lock:
    """Why a paper does not open now: a code and a zh-CN message."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class SittingTimes:
    starts_at: datetime
    ends_at: datetime
    late_entry_s: int
    checkin_s: int

    @property
    def checkin_from(self) -> datetime:
        return self.starts_at - timedelta(seconds=self.checkin_s)

    @property
    def entry_until(self) -> datetime:
        return min(self.starts_at + timedelta(seconds=self.late_entry_s), self.ends_at)


def sitting_lock(times: SittingTimes, now: datetime) -> Lock | None:
    """Why a candidate of this sitting may not open its paper at ``now``
    (server clock); None when they may."""
    if now < times.checkin_from:
        return Lock(
            "sitting_not_open",
            f"本场考试 {when(times.starts_at)} 开考，{when(times.checkin_from)} 起可进入考场进行设备检测和身份核验",
        )
    if now >= times.ends_at:
        return Lock("sitting_over", f"本场考试已于 {when(times.ends_at)} 结束")
    if now >= times.entry_until:
        minutes = times.late_entry_s // 60
        return Lock(
            "late_entry_closed",
            f"开考 {minutes} 分钟后不得入场，本场已于 {when(times.entry_until)} 停止入场",
        )
    return None


def sitting_deadline(times: SittingTimes, closes_at: datetime | None) -> datetime:
    """Rule E4 for a sitting: the attempt ends at the sitting's end, cut at
    the paper's close."""
    if closes_at is not None and closes_at < times.ends_at:
        return closes_at
    return times.ends_at


def answering_open(times: SittingTimes, now: datetime) -> bool:
    """Before the start the questions stay hidden (the identity-check window)."""
    return now >= times.starts_at


@dataclass(frozen=True, slots=True)
class RoomSpace:
    room_id: int
    taken: int


@dataclass(frozen=True, slots=True)
class RoomPlan:
    """Where each unplaced candidate goes: an existing room, or a new room
    (index into the invigilators that open new rooms)."""

    existing: list[tuple[int, int]]  # (user_id, room_id)
    new_rooms: list[list[int]]  # per new room, its candidates (one invigilator each)
    missing_invigilators: int  # 0 when everyone found a seat


def plan_rooms(unplaced: list[int], rooms: list[RoomSpace], invigilators: int) -> RoomPlan:
    """Fill the free seats of the existing rooms in order, then open up to
    ``invigilators`` new rooms of at most :data:`MAX_ROOM`. Candidates keep
    the order given (the caller sorts them, e.g. by name)."""
    queue = list(unplaced)
    existing: list[tuple[int, int]] = []
    for room in rooms:
        free = max(0, MAX_ROOM - room.taken)
        for user_id in queue[:free]:
            existing.append((user_id, room.room_id))
        queue = queue[free:]
    new_rooms: list[list[int]] = []
    while queue and len(new_rooms) < invigilators:
        new_rooms.append(queue[:MAX_ROOM])
        queue = queue[MAX_ROOM:]
    missing = -(-len(queue) // MAX_ROOM)
    return RoomPlan(existing, new_rooms, missing)
