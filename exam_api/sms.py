"""SMS verification codes (rules A1–A4).

Messages go through a ``SmsSender``; the default ``OutboxSender`` writes each
one to the ``sms_outbox`` table and the log — never to a real network — and
the development page ``/static/dev-outbox.html`` shows them.  A code is six
digits, stored as an HMAC, valid for 5 minutes, used once, and allows five
guesses (rule A5); after the fifth wrong guess the code is dead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

Purpose = Literal["login", "register", "reset"]
PURPOSES: tuple[Purpose, ...] = ("login", "register", "reset")
CODE_LIFETIME = dt.timedelta(minutes=5)
MAX_GUESSES = 5
_PHONE = re.compile(r"^1[3-9]\d{9}$")

_TEXTS: dict[Purpose, str] = {
    "login": "【安全生产管理人员考试系统】登录验证码：{code}，5分钟内有效。如非本人操作，请忽略。",
    "register": "【安全生产管理人员考试系统】注册验证码：{code}，5分钟内有效。",
    "reset": "【安全生产管理人员考试系统】找回密码验证码：{code}，5分钟内有效。如非本人操作，请忽略。",
}


def valid_phone(phone: str) -> bool:
    """A mainland mobile number: 11 digits starting with 13–19."""
    return bool(_PHONE.match(phone))


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


class SmsSender(Protocol):
    """Delivers one text message.  Implementations must not raise for a valid phone."""

    async def send(
        self, conn: Any, phone: str, text: str, purpose: str, now: dt.datetime
    ) -> None: ...


class OutboxSender:
    """Rule A4: the default sender keeps messages in an outbox table and the log."""

    async def send(self, conn: Any, phone: str, text: str, purpose: str, now: dt.datetime) -> None:
        await conn.execute(
            "INSERT INTO sms_outbox (phone, purpose, body, sent_at) VALUES ($1, $2, $3, $4)",
            phone,
            purpose,
            text,
            now,
        )
        log.info("sms outbox: to %s (%s): %s", mask_phone(phone), purpose, text)


async def outbox(conn: Any, phone: str | None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest outbox messages, newest first (optionally for one phone)."""
    rows = await conn.fetch(
        """SELECT id, phone, purpose, body, sent_at FROM sms_outbox
            WHERE $1::text IS NULL OR phone = $1 ORDER BY id DESC LIMIT $2""",
        phone,
        limit,
    )
    return [
        {
            "id": r["id"],
            "phone": r["phone"],
            "purpose": r["purpose"],
            "body": r["body"],
            "sent_at": r["sent_at"].isoformat(),
        }
        for r in rows
    ]


def _digest(secret: bytes, code_id: str, code: str) -> str:
    return hmac.new(secret, f"sms:{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    code_id: str
    phone: str
    expires_at: dt.datetime


async def issue_code(
    conn: Any,
    sender: SmsSender,
    secret: bytes,
    *,
    phone: str,
    purpose: Purpose,
    user_id: int | None,
    now: dt.datetime,
) -> IssuedCode:
    """Create a 6-digit code for ``phone`` and send it; the code itself is not returned."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    code_id = secrets.token_urlsafe(18)
    expires_at = now + CODE_LIFETIME
    await conn.execute(
        """INSERT INTO sms_codes (id, phone, purpose, user_id, code_hash, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        code_id,
        phone,
        purpose,
        user_id,
        _digest(secret, code_id, code),
        now,
        expires_at,
    )
    await sender.send(conn, phone, _TEXTS[purpose].format(code=code), purpose, now)
    return IssuedCode(code_id=code_id, phone=phone, expires_at=expires_at)


@dataclass(frozen=True)
class CodeCheck:
    """Outcome of a guess: ``error`` is None when the code was right (and is now used)."""

    error: str | None
    message: str
    phone: str = ""
    user_id: int | None = None


async def consume_code(
    conn: Any, secret: bytes, *, code_id: str, purpose: Purpose, code: str, now: dt.datetime
) -> CodeCheck:
    """Check a guess and record it.  Call inside a transaction.

    A right guess marks the code used; a wrong one counts towards the five
    allowed.  The caller commits either way, then reports ``error``.
    """
    row = await conn.fetchrow(
        """SELECT phone, user_id, code_hash, expires_at, guesses, used_at
             FROM sms_codes WHERE id = $1 AND purpose = $2 FOR UPDATE""",
        code_id,
        purpose,
    )
    if row is None:
        return CodeCheck("code_missing", "验证码无效，请重新获取")
    if row["used_at"] is not None:
        return CodeCheck("code_used", "验证码已使用，请重新获取")
    if row["expires_at"] <= now:
        return CodeCheck("code_expired", "验证码已过期，请重新获取")
    if row["guesses"] >= MAX_GUESSES:
        return CodeCheck("code_locked", "验证码错误次数过多，请重新获取")
    guess = code.strip()
    if not hmac.compare_digest(row["code_hash"], _digest(secret, code_id, guess)):
        guesses = row["guesses"] + 1
        await conn.execute("UPDATE sms_codes SET guesses = $2 WHERE id = $1", code_id, guesses)
        left = MAX_GUESSES - guesses
        if left == 0:
            return CodeCheck("code_locked", "验证码错误次数过多，请重新获取")
        return CodeCheck("code_wrong", f"短信验证码错误，还可尝试 {left} 次")
    await conn.execute("UPDATE sms_codes SET used_at = $2 WHERE id = $1", code_id, now)
    return CodeCheck(None, "", phone=row["phone"], user_id=row["user_id"])


async def sweep(conn: Any, now: dt.datetime) -> int:
    """Forget codes a day after they expired."""
    status: str = await conn.execute(
        "DELETE FROM sms_codes WHERE expires_at <= $1", now - dt.timedelta(days=1)
    )
    return int(status.split()[-1])
