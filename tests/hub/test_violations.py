"""Rule H3: one switch away is one violation, with its kind and duration."""

from __future__ import annotations

import pytest

from hub.errors import NotAllowed
from hub.violations import (
    KIND_CLICK_OUTSIDE,
    KIND_TAB_HIDDEN,
    KIND_WINDOW_BLUR,
    ViolationLedger,
)


def test_blur_visibility_and_pagehide_of_one_switch_count_once() -> None:
    # rule H3: blur + visibilitychange + pagehide within the window are one switch
    ledger = ViolationLedger(debounce_s=1.0)
    assert ledger.away("blur", 100.0) is not None
    assert ledger.away("visibility", 100.02) is None
    assert ledger.away("pagehide", 100.05) is None
    assert ledger.count == 1
    assert ledger.violations[0].causes == ["blur", "visibility", "pagehide"]
    assert ledger.violations[0].kind == KIND_TAB_HIDDEN


def test_signals_while_away_join_the_open_violation_even_after_the_window() -> None:
    ledger = ViolationLedger(debounce_s=1.0)
    ledger.away("blur", 100.0)
    assert ledger.away("visibility", 130.0) is None
    assert ledger.count == 1


def test_duration_is_recorded_when_back() -> None:
    # rule H3: a violation records its duration
    ledger = ViolationLedger(debounce_s=1.0)
    ledger.away("blur", 100.0)
    closed = ledger.back(112.5)
    assert closed is not None
    assert closed.duration_s(999.0) == 12.5
    assert closed.kind == KIND_WINDOW_BLUR


def test_open_violation_duration_runs_until_now() -> None:
    ledger = ViolationLedger()
    violation = ledger.away("visibility", 10.0)
    assert violation is not None
    assert violation.duration_s(14.0) == 4.0


def test_two_switches_apart_are_two_violations() -> None:
    # rule E3: each switch away is a violation
    ledger = ViolationLedger(debounce_s=1.0)
    ledger.away("blur", 100.0)
    ledger.back(103.0)
    assert ledger.away("blur", 110.0) is not None
    assert ledger.count == 2
    assert [v.index for v in ledger.violations] == [1, 2]


def test_flicker_back_and_away_within_the_window_is_the_same_switch() -> None:
    ledger = ViolationLedger(debounce_s=1.0)
    ledger.away("blur", 100.0)
    ledger.back(100.3)
    assert ledger.away("visibility", 100.6) is None
    assert ledger.count == 1
    assert ledger.current is not None


def test_click_outside_counts_with_no_duration() -> None:
    # rule E3: clicking outside the paper is a violation
    ledger = ViolationLedger(debounce_s=1.0)
    violation = ledger.click_outside(50.0)
    assert violation is not None
    assert violation.kind == KIND_CLICK_OUTSIDE
    assert violation.duration_s(60.0) == 0.0
    assert ledger.current is None


def test_click_outside_that_blurs_the_window_counts_once() -> None:
    ledger = ViolationLedger(debounce_s=1.0)
    ledger.click_outside(50.0)
    assert ledger.away("blur", 50.01) is None
    assert ledger.count == 1
    assert ledger.violations[0].kind == KIND_WINDOW_BLUR


def test_back_without_away_changes_nothing() -> None:
    ledger = ViolationLedger()
    assert ledger.back(5.0) is None
    assert ledger.count == 0


def test_unknown_cause_is_an_error() -> None:
    with pytest.raises(NotAllowed):
        ViolationLedger().away("mouse", 1.0)


def test_forgiven_violation_stops_counting_and_cannot_be_forgiven_twice() -> None:
    # rule H3: an invigilator may forgive one
    ledger = ViolationLedger()
    ledger.click_outside(1.0)
    ledger.click_outside(10.0)
    ledger.forgive(1, by_user=7)
    assert ledger.count == 1
    with pytest.raises(NotAllowed):
        ledger.forgive(1, by_user=7)
    with pytest.raises(NotAllowed):
        ledger.forgive(9, by_user=7)


def test_round_trip() -> None:
    ledger = ViolationLedger(debounce_s=0.5)
    ledger.away("blur", 1.0)
    ledger.back(2.0)
    ledger.away("pagehide", 5.0)
    copy = ViolationLedger.from_dict(ledger.to_dict())
    assert copy == ledger
