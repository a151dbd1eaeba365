"""Rate limits (rule A5): password tries per (account, address), logins per address,
SMS per phone and address, registrations per phone and address.

A sliding-window estimate over two fixed windows (the Cloudflare/nginx trick):
hits in the current window plus the previous window's hits weighted by how much
of it still overlaps the sliding window.  ``decide`` is pure — counts and
``now`` in, a decision out — and ``hit`` stores the counts in PostgreSQL so
every hub process shares them (rule H8).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window_s: int
    message: str  # shown to the candidate (Chinese)


# Password tries per (account, client address) pair, not per account: ten wrong passwords
# from one address lock that address out of that account only, so nobody can lock the
# owner out from elsewhere (issue #9).  A right password or a reset by SMS clears it.
LOGIN_PER_ACCOUNT_ADDRESS = Limit(
    "login_account_address",
    10,
    15 * 60,
    "该账号在当前网络的登录尝试过于频繁，请15分钟后再试，或通过“忘记密码”用短信验证码重设密码",
)
# Per-address limits are generous: a whole exam centre may sit behind one NAT address.
LOGIN_PER_ADDRESS = Limit("login_address", 300, 15 * 60, "登录尝试过于频繁，请稍后再试")
SMS_PER_PHONE_MINUTE = Limit("sms_phone_minute", 1, 60, "验证码发送过于频繁")
SMS_PER_PHONE_DAY = Limit("sms_phone_day", 10, 24 * 3600, "该手机号今日验证码发送次数已达上限")
SMS_PER_ADDRESS = Limit("sms_address", 200, 3600, "验证码发送过于频繁，请稍后再试")
# Registration tries (issue #9): each needs a fresh SMS code after a conflict on the ID card.
REGISTER_PER_ADDRESS = Limit("register_address", 60, 3600, "注册尝试过于频繁，请稍后再试")
REGISTER_PER_PHONE = Limit("register_phone", 10, 3600, "该手机号注册尝试过于频繁，请1小时后再试")
# Short phone binding codes typed by hand (issue #14): guessing one of 31^8 is hopeless at this rate.
PHONE_BIND_PER_ADDRESS = Limit("phone_bind_address", 30, 600, "绑定码输入过于频繁，请稍后再试")
CAPTCHA_PER_ADDRESS = Limit("captcha_address", 600, 600, "请求过于频繁，请稍后再试")


def login_subject(username: str, address: str) -> str:
    """The subject of ``LOGIN_PER_ACCOUNT_ADDRESS``: the pair, unambiguous ('|' is in no username)."""
    return f"{username.lower()}|{address}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: int  # 0 when allowed
    # seconds until one more hit would be allowed (after this one, if it was)
    next_after_s: int = 0


def window_index(limit: Limit, now: float) -> int:
    return int(now // limit.window_s)


def decide(limit: Limit, previous_hits: int, current_hits: int, now: float) -> Decision:
    """Is the hit that made ``current_hits`` allowed? (``current_hits`` includes it.)

    A refused hit is not kept (``hit`` takes it back), so a refused retry
    never extends the wait, and ``retry_after_s`` is the first moment the
    next try is allowed by the same estimate."""
    start = window_index(limit, now) * limit.window_s
    elapsed = (now - start) / limit.window_s
    estimate = previous_hits * (1.0 - elapsed) + current_hits
    if estimate <= limit.max_hits:
        after = _next_allowed_at(limit, previous_hits, current_hits, start, elapsed) - now
        return Decision(True, 0, _seconds(after) if after > 0 else 0)
    retry = _seconds(_next_allowed_at(limit, previous_hits, current_hits - 1, start, elapsed) - now)
    return Decision(False, retry, retry)


def _seconds(span: float) -> int:
    return max(1, math.ceil(round(span, 6)))


def _next_allowed_at(limit: Limit, previous: int, kept: int, start: float, elapsed: float) -> float:
    """The earliest time one more hit fits, with ``kept`` hits in the current
    window (starting at ``start``, ``elapsed`` of it gone) and ``previous``
    in the one before."""
    room = limit.max_hits - kept - 1
    if room >= 0:
        # in this window: previous*(1-e) + kept + 1 <= max  ->  e >= 1 - room/previous
        needed = 1.0 - room / previous if previous else 0.0
        return start + max(needed, elapsed) * limit.window_s
    # in the next window, where this one's kept hits fade: kept*(1-e) + 1 <= max
    needed = max(0.0, 1.0 - (limit.max_hits - 1) / kept)
    return start + limit.window_s + needed * limit.window_s


async def hit(conn: Any, limit: Limit, subject: str, now: float) -> Decision:
    """Count one hit of ``subject`` against ``limit`` and decide."""
    index = window_index(limit, now)
    current = await conn.fetchval(
        """
        INSERT INTO rate_hits (name, subject, window_index, hits, expires_at)
        VALUES ($1, $2, $3, 1, to_timestamp($4))
        ON CONFLICT (name, subject, window_index) DO UPDATE SET hits = rate_hits.hits + 1
        RETURNING hits
        """,
        limit.name,
        subject,
        index,
        (index + 2) * limit.window_s,
    )
    previous = await conn.fetchval(
        "SELECT hits FROM rate_hits WHERE name = $1 AND subject = $2 AND window_index = $3",
        limit.name,
        subject,
        index - 1,
    )
    decision = decide(limit, previous or 0, current, now)
    if not decision.allowed:  # a refused hit is not counted: retrying never extends the wait
        await conn.execute(
            "UPDATE rate_hits SET hits = hits - 1"
            " WHERE name = $1 AND subject = $2 AND window_index = $3",
            limit.name,
            subject,
            index,
        )
    return decision


async def forget_logins(conn: Any, username: str) -> None:
    """Clear the account's password-try counters from every address (a proven owner)."""
    await conn.execute(
        "DELETE FROM rate_hits WHERE name = $1 AND starts_with(subject, $2)",
        LOGIN_PER_ACCOUNT_ADDRESS.name,
        login_subject(username, ""),
    )


async def forget(conn: Any, limit: Limit, subject: str) -> None:
    """Clear one subject's counters (a right password ends its run of wrong ones)."""
    await conn.execute(
        "DELETE FROM rate_hits WHERE name = $1 AND subject = $2", limit.name, subject
    )


async def sweep(conn: Any, now: dt.datetime) -> int:
    """Delete counters no window can read any more."""
    status: str = await conn.execute("DELETE FROM rate_hits WHERE expires_at <= $1", now)
    return int(status.split()[-1])
