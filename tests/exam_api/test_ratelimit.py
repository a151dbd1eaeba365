"""Rule A5: codes and passwords are rate limited (sliding-window estimate)."""

from __future__ import annotations

from exam_api.ratelimit import Limit, decide, window_index

LIMIT = Limit("test", max_hits=5, window_s=100, message="太频繁")


def test_hits_up_to_the_limit_are_allowed() -> None:
    for hits in range(1, 6):
        assert decide(LIMIT, 0, hits, now=1000.0).allowed


def test_the_hit_over_the_limit_is_refused_until_the_window_ends() -> None:
    decision = decide(LIMIT, 0, 6, now=1030.0)
    assert not decision.allowed
    assert decision.retry_after_s == 70


def test_previous_window_counts_by_its_overlap() -> None:
    # 30 % into the window: 5 previous hits weigh 3.5, plus 2 current = 5.5 > 5
    assert not decide(LIMIT, 5, 2, now=1030.0).allowed
    # 80 % into the window: 5 previous hits weigh 1.0, plus 4 current = 5
    assert decide(LIMIT, 5, 4, now=1080.0).allowed


def test_retry_after_accounts_for_the_fading_previous_window() -> None:
    decision = decide(LIMIT, 5, 2, now=1030.0)
    # the next hit makes 3 current hits: allowed once 5*(1-e)+3 <= 5, i.e. e >= 0.6
    assert decision.retry_after_s == 30
    assert decide(LIMIT, 5, 3, now=1060.0).allowed


def test_window_index_is_fixed_by_time() -> None:
    assert window_index(LIMIT, 999.9) == 9
    assert window_index(LIMIT, 1000.0) == 10
