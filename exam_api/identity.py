"""Who a person is: the identity provider interface and the built-in provider (rule A1).

In production identity comes from the province's single sign-on (蒙速办):
the OpenID Connect relying party (``exam_api/oidc.py``) proves who the person
is and finds or creates the account through this interface
(``exam_api/sso_links.py``).  The built-in
provider keeps accounts in the ``users`` table with argon2id hashes.  The
field rules here (username, password, real name, phone) are shared by
register, reset and the request wizard.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol

from exam_api.passwords import PasswordHashing, hash_password, needs_rehash
from exam_api.sms import valid_phone

_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
MAX_NAME = 30
# A hash of a random password: verifying against it costs as much as a real check,
# so an unknown username answers no faster than a wrong password.
_DUMMY_HASH = hash_password("no-such-user-7f3c")


class FieldError(ValueError):
    """A form field that breaks a rule; the message names the field in Chinese."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    real_name: str
    phone: str | None
    id_card: str | None


@dataclass(frozen=True)
class NewAccount:
    username: str
    password: str
    real_name: str
    id_card: str
    phone: str


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise FieldError("bad_username", "用户名须为4至32位字母、数字或下划线，并以字母开头")
    return username


def check_password(password: str) -> str:
    if not 8 <= len(password) <= 64:
        raise FieldError("weak_password", "密码长度须为8至64位")
    if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        raise FieldError("weak_password", "密码须同时包含字母和数字")
    return password


def check_text(value: object, label: str, *, code: str, max_len: int = MAX_NAME) -> str:
    """A required one-line text field: trimmed, no control characters, bounded length.

    HTML is allowed here as data: every page renders it as text (never as markup).
    """
    if not isinstance(value, str) or not value.strip():
        raise FieldError(code, f"请填写{label}")
    text = unicodedata.normalize("NFC", value.strip())
    if len(text) > max_len:
        raise FieldError(code, f"{label}过长：最多 {max_len} 个字符")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text):
        raise FieldError(code, f"{label}包含不可见的控制字符")
    return text


def check_phone(phone: object) -> str:
    if not isinstance(phone, str) or not valid_phone(phone.strip()):
        raise FieldError("bad_phone", "请输入正确的11位手机号码")
    return phone.strip()


class IdentityProvider(Protocol):
    """Where accounts live.  All methods take an open connection (one transaction)."""

    async def authenticate(self, conn: Any, username: str, password: str) -> Account | None: ...

    async def find_by_phone(self, conn: Any, phone: str) -> Account | None: ...

    async def username_taken(self, conn: Any, username: str) -> bool: ...

    async def create_candidate(self, conn: Any, new: NewAccount) -> Account: ...

    async def set_password(self, conn: Any, user_id: int, password: str) -> None: ...

    async def find_by_id(self, conn: Any, user_id: int) -> Account | None: ...

    async def find_by_id_card(self, conn: Any, id_card: str) -> Account | None: ...


_COLUMNS = "id, username, role, real_name, phone, id_card"


def _account(row: Any) -> Account:
    return Account(
        id=row["id"],
        username=row["username"],
        role=row["role"],
        real_name=row["real_name"],
        phone=row["phone"],
        id_card=row["id_card"],
    )


class BuiltinProvider:
    """Accounts in the ``users`` table, passwords hashed with argon2id off the event loop."""

    def __init__(self, hashing: PasswordHashing) -> None:
        self._hashing = hashing

    async def authenticate(self, conn: Any, username: str, password: str) -> Account | None:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = $1", username
        )
        if row is None:
            await self._hashing.verify(_DUMMY_HASH, password)
            return None
        if not await self._hashing.verify(row["password_hash"], password):
            return None
        if needs_rehash(row["password_hash"]):
            # rule A5: older hashes move to today's parameters at the first sign-in
            await conn.execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                row["id"],
                await self._hashing.hash(password),
            )
        return _account(row)

    async def find_by_phone(self, conn: Any, phone: str) -> Account | None:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM users WHERE phone = $1 ORDER BY id LIMIT 1", phone
        )
        return None if row is None else _account(row)

    async def username_taken(self, conn: Any, username: str) -> bool:
        found = await conn.fetchval(
            "SELECT 1 FROM users WHERE lower(username) = lower($1)", username
        )
        return found is not None

    async def create_candidate(self, conn: Any, new: NewAccount) -> Account:
        row = await conn.fetchrow(
            f"""INSERT INTO users (username, password_hash, role, real_name, id_card, phone)
                VALUES ($1, $2, 'candidate', $3, $4, $5) RETURNING {_COLUMNS}""",
            new.username,
            await self._hashing.hash(new.password),
            new.real_name,
            new.id_card,
            new.phone,
        )
        return _account(row)

    async def set_password(self, conn: Any, user_id: int, password: str) -> None:
        password_hash = await self._hashing.hash(password)
        await conn.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash
        )
        # A new password signs out every other browser.
        await conn.execute("DELETE FROM web_sessions WHERE user_id = $1", user_id)

    async def find_by_id(self, conn: Any, user_id: int) -> Account | None:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1", user_id)
        return None if row is None else _account(row)

    async def find_by_id_card(self, conn: Any, id_card: str) -> Account | None:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM users WHERE id_card = $1 ORDER BY id LIMIT 1", id_card
        )
        return None if row is None else _account(row)
