"""Which account an SSO identity is (issuer + subject → user), and the first
sign-in that makes the link.

First sign-in: an existing candidate with the same ID-card number is linked;
otherwise a candidate is created with the SSO's verified name and phone (the
SSO proved the phone: no SMS step, rule A1 as the province runs it). Later
sign-ins find the link. Every refusal happens inside the transaction, so a
refused sign-in creates nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

import asyncpg

from exam_api.identity import Account, IdentityProvider, NewAccount
from exam_api.oidc_claims import SsoIdentity
from exam_api.oidc_errors import OidcError


def sso_username(issuer: str, subject: str) -> str:
    """A stable username for an account the SSO created (the built-in rules hold)."""
    return "sso_" + hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:16]


async def _lock(conn: Any, key: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)


async def linked_user(conn: Any, issuer: str, subject: str) -> int | None:
    user_id: int | None = await conn.fetchval(
        "SELECT user_id FROM sso_links WHERE issuer = $1 AND subject = $2", issuer, subject
    )
    return user_id


async def user_has_link(conn: Any, issuer: str, user_id: int) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM sso_links WHERE issuer = $1 AND user_id = $2", issuer, user_id
    )
    return found is not None


async def insert_link(conn: Any, issuer: str, subject: str, user_id: int, now: dt.datetime) -> None:
    await conn.execute(
        """INSERT INTO sso_links (issuer, subject, user_id, linked_at, last_login_at)
           VALUES ($1, $2, $3, $4, $4)""",
        issuer,
        subject,
        user_id,
        now,
    )


async def touch_link(conn: Any, issuer: str, subject: str, now: dt.datetime) -> None:
    await conn.execute(
        "UPDATE sso_links SET last_login_at = $3 WHERE issuer = $1 AND subject = $2",
        issuer,
        subject,
        now,
    )


async def _first_account(conn: Any, accounts: IdentityProvider, who: SsoIdentity) -> Account:
    existing = await accounts.find_by_id_card(conn, who.id_card)
    if existing is not None:
        if existing.role != "candidate":
            raise OidcError("id_card_staff")
        if await user_has_link(conn, who.issuer, existing.id):
            raise OidcError("id_card_linked")
        return existing
    if await accounts.find_by_phone(conn, who.phone) is not None:
        raise OidcError("phone_taken")
    return await accounts.create_candidate(
        conn,
        NewAccount(
            username=sso_username(who.issuer, who.subject),
            # Nobody knows it: the candidate signs in through the SSO, or sets
            # a password of their own by proving the phone (rule A3).
            password=secrets.token_urlsafe(32),
            real_name=who.real_name,
            id_card=who.id_card,
            phone=who.phone,
        ),
    )


async def resolve(
    conn: Any, accounts: IdentityProvider, who: SsoIdentity, now: dt.datetime
) -> Account:
    """The account of ``who``: the linked one, else linked or created now."""
    async with conn.transaction():
        # One first sign-in at a time per subject and per ID-card number.
        await _lock(conn, f"sso-subject:{who.issuer}\n{who.subject}")
        await _lock(conn, f"sso-id-card:{who.id_card}")
        user_id = await linked_user(conn, who.issuer, who.subject)
        if user_id is not None:
            account = await accounts.find_by_id(conn, user_id)
            if account is not None:
                await touch_link(conn, who.issuer, who.subject, now)
                return account
        account = await _first_account(conn, accounts, who)
        try:
            await insert_link(conn, who.issuer, who.subject, account.id, now)
        except asyncpg.UniqueViolationError:
            raise OidcError("id_card_linked") from None
        return account
