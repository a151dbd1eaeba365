"""Sign-ins under way at the province's SSO: one short-lived, single-use row each.

The state, the nonce and the PKCE code verifier are made and kept here, on the
server; the browser carries the state to the provider and back, plus a cookie
that binds the flow to the browser that began it (a callback opened in another
browser — login CSRF — finds no matching row). Only hashes of the state and of
the cookie are stored. ``take`` deletes the row it returns: a second callback
with the same state finds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge

LIFETIME = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class PendingLogin:
    """What the authorization request needs; ``browser`` goes into a cookie."""

    state: str
    browser: str
    nonce: str
    code_verifier: str

    @property
    def code_challenge(self) -> str:
        challenge: str = create_s256_code_challenge(self.code_verifier)
        return challenge


@dataclass(frozen=True)
class TakenLogin:
    nonce: str
    code_verifier: str
    next_path: str | None


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def begin(conn: Any, next_path: str | None, now: dt.datetime) -> PendingLogin:
    """Store a new sign-in; return its secrets (the state, the browser cookie, nonce, verifier)."""
    pending = PendingLogin(
        state=secrets.token_urlsafe(32),
        browser=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(64),  # 86 characters: RFC 7636 allows 43–128
    )
    await conn.execute(
        """INSERT INTO oidc_logins
               (state_hash, browser_hash, nonce, code_verifier, next_path, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        _digest(pending.state),
        _digest(pending.browser),
        pending.nonce,
        pending.code_verifier,
        next_path,
        now,
        now + LIFETIME,
    )
    return pending


async def take(conn: Any, state: str, browser: str, now: dt.datetime) -> TakenLogin | None:
    """The sign-in of this state begun by this browser, removed; None when unknown,
    used, expired or begun elsewhere (a row of another browser is left alone)."""
    row = await conn.fetchrow(
        """DELETE FROM oidc_logins
            WHERE state_hash = $1 AND browser_hash = $2 AND expires_at > $3
        RETURNING nonce, code_verifier, next_path""",
        _digest(state),
        _digest(browser),
        now,
    )
    if row is None:
        return None
    return TakenLogin(
        nonce=row["nonce"], code_verifier=row["code_verifier"], next_path=row["next_path"]
    )


async def sweep(conn: Any, now: dt.datetime) -> int:
    """Delete expired sign-ins; return how many."""
    result: str = await conn.execute("DELETE FROM oidc_logins WHERE expires_at <= $1", now)
    return int(result.split()[-1])
