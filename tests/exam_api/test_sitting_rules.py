"""When a sitting lets a candidate in, and how rooms fill (rule M1). Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exam_api.paper_access import PaperFacts, paper_access
from exam_api.sitting_rules import (
    MAX_ROOM,
    RoomSpace,
    SittingTimes,
    plan_rooms,
    sitting_deadline,
    sitting_lock,
)

START = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 09:00 Beijing time
TIMES = SittingTimes(START, START + timedelta(minutes=90), late_entry_s=1800, checkin_s=1200)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("minutes", "reason"),
    [
        (-21, "sitting_not_open"),
        (-20, None),  # the identity-check window opens 20 min before the start
        (0, None),
        (29.9, None),
        (30, "late_entry_closed"),  # rule M1: 30 min after the start the paper no longer opens
        (89, "late_entry_closed"),
        (90, "sitting_over"),
    ],
)
def test_the_sitting_opens_only_inside_its_window(minutes: float, reason: str | None) -> None:
    lock = sitting_lock(TIMES, at(minutes))
    assert (lock and lock.reason) == reason


def test_messages_speak_beijing_time() -> None:
    lock = sitting_lock(TIMES, at(-60))
    assert lock is not None and "09:00" in lock.message and "08:40" in lock.message
    late = sitting_lock(TIMES, at(31))
    assert late is not None and "30 分钟" in late.message


def test_every_attempt_of_a_sitting_ends_at_its_end_cut_at_the_paper_close() -> None:
    assert sitting_deadline(TIMES, None) == at(90)
    assert sitting_deadline(TIMES, at(60)) == at(60)


def facts(**more: object) -> PaperFacts:
    base: dict[str, object] = {
        "kind": "formal",
        "opens_at": None,
        "closes_at": None,
        "running_attempt": False,
        "ended_attempts": 0,
        "mock_submitted": True,
    }
    return PaperFacts(**{**base, **more})  # type: ignore[arg-type]


def test_a_paper_with_sittings_opens_only_in_the_candidates_own_sitting() -> None:
    assert paper_access(facts(), at(0)).state == "open"  # no sittings: as before
    assert paper_access(facts(has_sittings=True), at(0)).reason == "no_sitting"
    assert paper_access(facts(has_sittings=True, sitting=TIMES), at(0)).state == "open"
    assert paper_access(facts(has_sittings=True, sitting=TIMES), at(45)).reason == (
        "late_entry_closed"
    )
    # a running attempt is always resumed, also after the late-entry cut-off
    assert (
        paper_access(facts(has_sittings=True, sitting=TIMES, running_attempt=True), at(45)).state
        == "resume"
    )


def test_rooms_fill_free_seats_first_then_new_rooms_of_at_most_30() -> None:
    people = list(range(1, 76))
    plan = plan_rooms(people, [RoomSpace(100, 25)], invigilators=3)
    assert plan.existing == [(u, 100) for u in range(1, 6)]
    assert [len(r) for r in plan.new_rooms] == [30, 30, 10]
    assert plan.missing_invigilators == 0
    assert all(len(r) <= MAX_ROOM for r in plan.new_rooms)


def test_too_few_invigilators_says_how_many_are_missing() -> None:
    plan = plan_rooms(list(range(61)), [], invigilators=1)
    assert plan.missing_invigilators == 2
