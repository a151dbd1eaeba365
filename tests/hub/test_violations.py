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


def test_signals_of_one_switch_arriving_together_count_once() -> None:
    # rule H3: the same instant, any order: one switch
    ledger = ViolationLedger(debounce_s=1.0)
    for cause in ("pagehide", "visibility", "blur", "visibility"):
        ledger.away(cause, 100.0)
    assert ledger.count == 1
    assert ledger.violations[0].causes == ["pagehide", "visibility", "blur"]


def test_quick_re_switches_each_count() -> None:
    # rules E3, H3 (attack, issue #9): lost/back/lost/back/lost with 0.4 s on the
    # paper between them is three departures, not one forgiven by a window
    ledger = ViolationLedger(debounce_s=1.0)
    t = 100.0
    opened = []
    for n in range(3):
        opened.append(ledger.away("blur", t))
        ledger.away("visibility", t + 0.01)  # same switch: joins
        if n < 2:
            ledger.back(t + 0.1)
        t += 0.5
    assert all(v is not None for v in opened)
    assert ledger.count == 3
    assert ledger.current is not None and ledger.current.index == 3


@pytest.mark.parametrize("return_s", [0.0, 0.001, 0.4, 0.999, 1.0, 5.0])
def test_a_departure_after_any_return_counts_again(return_s: float) -> None:
    # rule E3: a back then a lost is a new switch however short the return
    ledger = ViolationLedger(debounce_s=1.0)
    ledger.away("blur", 100.0)
    ledger.back(100.2)
    assert ledger.away("blur", 100.2 + return_s) is not None
    assert ledger.count == 2


def test_leaving_again_and_again_costs_one_each() -> None:
    # attack: five rapid departures end the attempt's budget (rule E3: 5 of 5)
    ledger = ViolationLedger(debounce_s=1.0)
    for n in range(5):
        ledger.away("visibility", 100.0 + n * 0.2)
        ledger.back(100.0 + n * 0.2 + 0.1)
    assert ledger.count == 5


def test_old_state_with_a_long_debounce_still_counts_re_departures() -> None:
    # a ledger saved before issue #9 carries "d": it must not forgive either
    ledger = ViolationLedger.from_dict({"d": 60.0, "v": []})
    ledger.away("blur", 100.0)
    ledger.back(101.0)
    assert ledger.away("blur", 102.0) is not None
    assert ledger.count == 2


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


def test_click_that_brought_the_window_back_joins_the_switch_once() -> None:
    # focus (back) then mousedown outside the paper: one gesture, one violation
    ledger = ViolationLedger(debounce_s=1.0)
    ledger.away("blur", 50.0)
    ledger.back(55.0)
    assert ledger.click_outside(55.01) is None
    assert ledger.count == 1
    assert ledger.click_outside(55.02) is not None  # a second click counts
    assert ledger.count == 2


def test_click_joins_cannot_buy_a_departure() -> None:
    # attack: lost, back, click (joins), lost: the second departure counts
    ledger = ViolationLedger(debounce_s=1.0)
    ledger.away("blur", 50.0)
    ledger.back(50.1)
    ledger.click_outside(50.2)
    assert ledger.away("blur", 50.3) is not None
    # and a click's own departure is paid once: click, lost, back, lost
    ledger.back(50.4)
    ledger.click_outside(60.0)
    ledger.away("blur", 60.01)
    ledger.back(60.2)
    assert ledger.away("blur", 60.3) is not None
    assert ledger.count == 4


def test_a_click_long_before_a_departure_does_not_pay_for_it() -> None:
    ledger = ViolationLedger(debounce_s=1.0)
    ledger.click_outside(50.0)
    assert ledger.away("blur", 80.0) is not None
    assert ledger.count == 2


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
