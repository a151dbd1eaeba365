"""Browser sessions that began at the province's SSO, and their logout there.

The ID token is kept beside the session (``sso_sessions``, deleted with it)
as the ``id_token_hint`` of RP-initiated logout: ending the local session
also sends the browser to the provider's ``end_session_endpoint`` when it has
one, and back to the login page from there.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from exam_api.oidc_client import OidcClient
from proctor.web_sessions import token_digest


def sso_of(conn: HTTPConnection) -> OidcClient | None:
    """The relying party the wiring built (None: single sign-on is off)."""
    value: OidcClient | None = conn.state.sso
    return value


async def remember(conn: Any, token: str, issuer: str, id_token: str) -> None:
    """Record that the session of ``token`` began at ``issuer`` with ``id_token``."""
    await conn.execute(
        "INSERT INTO sso_sessions (token_hash, issuer, id_token) VALUES ($1, $2, $3)",
        token_digest(token),
        issuer,
        id_token,
    )


async def logout_url(request: HTTPConnection, conn: Any, token: str) -> str | None:
    """Where the browser ends the provider's session too, for a session that
    began there; None otherwise. Call it before the local session is deleted
    (its row goes with it)."""
    client = sso_of(request)
    if client is None or not token:
        return None
    row = await conn.fetchrow(
        "SELECT issuer, id_token FROM sso_sessions WHERE token_hash = $1", token_digest(token)
    )
    if row is None or row["issuer"] != client.settings.issuer:
        return None
    return await client.end_session_url(row["id_token"])
