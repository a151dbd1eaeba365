"""Driving a sign-in through the tests' OpenID provider with httpx: the exam
system's start, the provider's development login and consent pages, up to the
redirect back to the exam system's callback (which the test then opens)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import httpx

_FORM = re.compile(r"<form([^>]*)>(.*?)</form>", re.S)
_ACTION = re.compile(r'action="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"\s*/?>')
MAX_HOPS = 20


def form_of(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The page's form: its absolute action and its hidden fields."""
    match = _FORM.search(response.text)
    action = _ACTION.search(match.group(1)) if match else None
    if response.status_code != 200 or match is None or action is None:
        raise AssertionError(f"provider page {response.status_code}: {response.text[:300]}")
    fields = {name: unescape(value) for name, value in _HIDDEN.findall(match.group(2))}
    return urljoin(str(response.url), unescape(action.group(1))), fields


async def start(client: httpx.AsyncClient, app_url: str, next_path: str | None = None) -> str:
    """The exam system's start: returns where it sends the browser (the provider)."""
    params = {"next": next_path} if next_path else None
    response = await client.get(f"{app_url}/api/auth/oidc/start", params=params)
    if response.status_code != 303:
        raise AssertionError(f"start answered {response.status_code}: {response.text[:200]}")
    return response.headers["location"]


async def through_provider(client: httpx.AsyncClient, url: str, login: str, callback: str) -> str:
    """Follow the provider's redirects and fill its login and consent forms as
    ``login``; return the URL of the redirect to ``callback`` (not opened)."""
    response = await client.get(url)
    for _ in range(MAX_HOPS):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if target.startswith(callback):
                return target
            response = await client.get(target)
            continue
        action, fields = form_of(response)
        if fields.get("prompt") == "login":
            fields |= {"login": login, "password": "any-password"}
        response = await client.post(action, data=fields)
    raise AssertionError("the provider never sent the browser back")


async def sign_in_url(client: httpx.AsyncClient, app_url: str, login: str) -> str:
    """The whole way to the provider and back: the callback URL with code and state."""
    return await through_provider(
        client, await start(client, app_url), login, f"{app_url}/api/auth/oidc/callback"
    )
