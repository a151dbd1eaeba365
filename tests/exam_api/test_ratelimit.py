"""Rule A5: codes and passwords are rate limited (sliding-window estimate)."""

from __future__ import annotations

import random
import secrets
import time

import asyncpg

from exam_api.ratelimit import SMS_PER_PHONE_MINUTE, Limit, decide, hit, window_index

LIMIT = Limit("test", max_hits=5, window_s=100, message="太频繁")


def test_hits_up_to_the_limit_are_allowed() -> None:
    for hits in range(1, 6):
        assert decide(LIMIT, 0, hits, now=1000.0).allowed


def test_the_hit_over_the_limit_waits_until_the_full_window_fades() -> None:
    # 5 kept hits at 30 % of the window; the sixth is refused. At the window's
    # end they still weigh 5, so the next try fits once they weigh 4: 20 % into
    # the next window (issue #14: the old answer, "at the window's end", was refused again)
    decision = decide(LIMIT, 0, 6, now=1030.0)
    assert not decision.allowed
    assert decision.retry_after_s == 90
    assert not decide(LIMIT, 5, 1, now=1119.0).allowed
    assert decide(LIMIT, 5, 1, now=1120.0).allowed


def test_retry_after_accounts_for_the_fading_previous_window() -> None:
    decision = decide(LIMIT, 5, 2, now=1030.0)
    # the refused hit is not kept: the next try makes 2 current hits again,
    # allowed once 5*(1-e)+2 <= 5, i.e. e >= 0.4
    assert decision.retry_after_s == 10
    assert not decide(LIMIT, 5, 2, now=1039.0).allowed
    assert decide(LIMIT, 5, 2, now=1040.0).allowed


def test_retry_after_is_the_first_second_the_next_try_fits() -> None:
    # brute force over the estimate itself: at now + retry_after_s the next
    # try is allowed, one second earlier it is not
    rng = random.Random(14)
    for _ in range(2000):
        previous, kept = rng.randint(0, 8), rng.randint(0, 7)
        now = 1000.0 + rng.randint(0, 99)
        decision = decide(LIMIT, previous, kept + 1, now)
        if decision.allowed:
            continue
        assert allowed_at(previous, kept, now + decision.retry_after_s)
        assert not allowed_at(previous, kept, now + decision.retry_after_s - 1)


def allowed_at(previous: int, kept: int, t: float) -> bool:
    """Would one more hit at ``t`` be allowed, the counts having been taken at 1000..1099?"""
    if t < 1100:
        return decide(LIMIT, previous, kept + 1, t).allowed
    if t < 1200:
        return decide(LIMIT, kept, 1, t).allowed
    return decide(LIMIT, 0, 1, t).allowed


def test_an_allowed_hit_says_when_the_next_one_fits() -> None:
    # one SMS per phone: sent at 10 s into the window, the next fits only once
    # it has faded out of the sliding window, at the end of the next window
    decision = decide(SMS_PER_PHONE_MINUTE, 0, 1, now=6010.0)
    assert decision.allowed
    assert decision.next_after_s == 110
    assert decide(LIMIT, 0, 1, now=1000.0).next_after_s == 0


async def test_a_refused_try_is_not_counted(pool: asyncpg.Pool) -> None:
    # issue #14: retrying while refused never extends the wait. The times are
    # an hour ahead of the real clock, on a window's boundary + 10 s: the live
    # servers' housekeeping sweeps hits older than their window by the real
    # clock, and swept mid-test a 1970 time let a refused try through (CI).
    subject = secrets.token_hex(6)
    base = (time.time() // 60 + 60) * 60 + 10
    async with pool.acquire() as conn:
        first = await hit(conn, SMS_PER_PHONE_MINUTE, subject, base)
        assert first.allowed
        refused = [await hit(conn, SMS_PER_PHONE_MINUTE, subject, base + t) for t in range(1, 40)]
        assert not any(d.allowed for d in refused)
        waits = [base + t + d.retry_after_s for t, d in zip(range(1, 40), refused, strict=True)]
        assert set(waits) == {base + first.next_after_s}
        assert not (await hit(conn, SMS_PER_PHONE_MINUTE, subject, base + 109)).allowed
        assert (await hit(conn, SMS_PER_PHONE_MINUTE, subject, base + 110)).allowed


def test_window_index_is_fixed_by_time() -> None:
    assert window_index(LIMIT, 999.9) == 9
    assert window_index(LIMIT, 1000.0) == 10
