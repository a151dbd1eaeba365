"""An exam system with single sign-on on, and the OpenID provider it trusts:
fixtures for the SSO tests (module scope: one provider, one app per module)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from proctor.settings import Settings, load_oidc_settings
from tests.support.accounts import unique_id_card, unique_phone
from tests.support.clock import SteppedClock
from tests.support.live import LiveServer, free_port, start_live_server
from tests.support.oidc_provider import (
    CLAIMS_SETTING,
    CLIENT_ID,
    CLIENT_SECRET,
    SCOPES,
    OidcProvider,
    start_oidc_provider,
)

# The provider's users (login → who they are); the claims are the province's names.
LOGINS = (
    "newcomer", "existing", "replay", "other_key", "expired", "no_id_card", "bad_check",
    "staff", "browser", "later",
)  # fmt: skip


@dataclass
class Person:
    login: str
    real_name: str
    id_card: str
    phone: str

    def claims(self) -> dict[str, str]:
        return {"xm": self.real_name, "sfzh": self.id_card, "sjhm": self.phone}


@dataclass
class SsoSystem:
    app: LiveServer
    provider: OidcProvider
    clock: SteppedClock
    people: dict[str, Person]

    @property
    def callback(self) -> str:
        return f"{self.app.url}/api/auth/oidc/callback"


def _people() -> dict[str, Person]:
    people = {
        login: Person(login, f"统一认证{i}号", unique_id_card(), unique_phone())
        for i, login in enumerate(LOGINS, 1)
    }
    bad = people["bad_check"].id_card
    wrong_digit = "0" if bad[-1] != "0" else "1"
    people["bad_check"] = dataclasses.replace(people["bad_check"], id_card=bad[:-1] + wrong_digit)
    return people


def _users(people: dict[str, Person]) -> dict[str, Any]:
    users: dict[str, Any] = {login: person.claims() for login, person in people.items()}
    del users["no_id_card"]["sfzh"]
    return users


@pytest.fixture(scope="module")
async def sso_system(
    settings: Settings, pool: asyncpg.Pool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SsoSystem]:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    people = _people()
    provider = await start_oidc_provider(
        tmp_path_factory.mktemp("oidc"),
        redirect_uri=f"{public_url}/api/auth/oidc/callback",
        post_logout_redirect_uri=f"{public_url}/static/login.html",
        users=_users(people),
    )
    try:
        env = {
            "PROCTOR_OIDC_ISSUER": provider.issuer,
            "PROCTOR_OIDC_CLIENT_ID": CLIENT_ID,
            "PROCTOR_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "PROCTOR_OIDC_CLAIMS": CLAIMS_SETTING,
            "PROCTOR_OIDC_SCOPES": SCOPES,
        }
        sso_settings = dataclasses.replace(
            settings, public_url=public_url, oidc=load_oidc_settings(env, public_url=public_url)
        )
        clock = SteppedClock()
        app = await start_live_server(sso_settings, clock=clock, port=port)
        try:
            yield SsoSystem(app=app, provider=provider, clock=clock, people=people)
        finally:
            await app.stop()
    finally:
        await provider.stop()
