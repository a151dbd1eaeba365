"""The random snapshot schedule (rule E2): seeded randomness, time as a parameter."""

from __future__ import annotations

import random
import statistics

import pytest

from webrtc.schedule import SnapshotSchedule, gap_mean


def test_first_snapshot_comes_after_start_and_fires_once() -> None:
    schedule = SnapshotSchedule(random.Random(1), mean_interval_s=45, min_gap_s=10)
    assert not schedule.due(0.0)
    due = schedule.start(now=100.0)
    assert 110.0 <= due <= 100.0 + schedule.max_gap_s
    assert not schedule.due(due - 0.001)
    assert schedule.due(due)
    following = schedule.fire(due)
    assert following >= due + 10
    assert not schedule.due(due)


def test_same_seed_same_times_other_seed_other_times() -> None:
    def times(seed: int) -> list[float]:
        schedule = SnapshotSchedule(random.Random(seed), mean_interval_s=30, min_gap_s=5)
        now = schedule.start(0.0)
        out = [now]
        for _ in range(20):
            now = schedule.fire(now)
            out.append(now)
        return out

    assert times(7) == times(7)
    assert times(7) != times(8)


@pytest.mark.parametrize(("mean", "min_gap"), [(30.0, 10.0), (45.0, 10.0), (60.0, 20.0)])
def test_gaps_have_the_configured_mean_and_bounds(mean: float, min_gap: float) -> None:
    schedule = SnapshotSchedule(random.Random(42), mean_interval_s=mean, min_gap_s=min_gap)
    gaps = [schedule.draw_gap() for _ in range(20_000)]
    assert min(gaps) >= min_gap
    assert max(gaps) <= schedule.max_gap_s
    expected = gap_mean(mean, min_gap, schedule.max_gap_s)
    assert abs(statistics.fmean(gaps) - expected) < 0.03 * expected
    # the cap trims little: the mean stays close to the configured one
    assert abs(expected - mean) < 0.1 * mean


def test_gaps_are_not_regular() -> None:
    # a client that saw the previous gaps cannot guess the next one
    schedule = SnapshotSchedule(random.Random(3), mean_interval_s=45, min_gap_s=10)
    gaps = [schedule.draw_gap() for _ in range(1000)]
    assert statistics.pstdev(gaps) > 20


def test_a_late_poll_fires_once_and_rearms_from_now() -> None:
    schedule = SnapshotSchedule(random.Random(5), mean_interval_s=30, min_gap_s=10)
    due = schedule.start(0.0)
    late = due + 500.0  # e.g. the loop was busy or the process was paused
    assert schedule.due(late)
    following = schedule.fire(late)
    assert following >= late + 10
    assert not schedule.due(late)


def test_stop_disarms_and_fire_before_due_is_a_bug() -> None:
    schedule = SnapshotSchedule(random.Random(5))
    schedule.start(0.0)
    with pytest.raises(AssertionError):
        schedule.fire(0.0)
    schedule.stop()
    assert not schedule.due(10_000.0)
