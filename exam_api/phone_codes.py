"""Short phone binding codes (rule D3, issue #14): what a candidate types on
the phone when the QR code cannot be scanned, instead of a 150-character
address.

A code is 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L),
shown as ``K7MW-3QXP``; 31⁸ ≈ 8.5 × 10¹¹ codes. It lives as long as a
phone token, is used once (GETDEL) and an attempt has one at a time (a new
one replaces the old). Guessing is bounded by a per-address rate limit on
the bind endpoint.
"""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

from hub.keys import Keys

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8
SHORT_PATH = "/p"  # typed on the phone: redirects to the phone page


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def shown(code: str) -> str:
    """``K7MW3QXP`` → ``K7MW-3QXP`` (easier to read out and type)."""
    return f"{code[:4]}-{code[4:]}"


def normalized(typed: object) -> str | None:
    """What the candidate typed, as a code (case, spaces and dashes ignored),
    or None when it cannot be one."""
    if not isinstance(typed, str) or len(typed) > 32:
        return None
    code = typed.upper().replace("-", "").replace(" ", "")
    if len(code) != LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


async def issue(redis: Redis, keys: Keys, attempt_id: int, ttl_s: int) -> str:
    """A fresh code for the attempt; the attempt's previous code stops working."""
    code = new_code()
    await redis.set(keys.phone_code(code), str(attempt_id), ex=ttl_s)
    previous = await redis.set(keys.phone_code_of(attempt_id), code, ex=ttl_s, get=True)
    if previous:
        old = previous.decode() if isinstance(previous, bytes) else str(previous)
        await redis.delete(keys.phone_code(old))
    return code


async def redeem(redis: Redis, keys: Keys, code: str) -> int | None:
    """The attempt of ``code``, once: the code is gone afterwards."""
    value = await redis.getdel(keys.phone_code(code))
    if value is None:
        return None
    return int(value)
