"""The STUN/TURN servers of the camera's WebRTC connection, read once
(``PROCTOR_ICE_SERVERS``): candidates behind strict NATs or firewalls send
their video through a TURN relay (coturn, docs/deployment.md).

The value is a JSON list in the browser's ``RTCIceServer`` form, handed to
the exam page as it is and to the server's aiortc peers::

    [{"urls": "stun:turn.example.gov.cn:3478"},
     {"urls": ["turn:turn.example.gov.cn:3478?transport=udp",
               "turns:turn.example.gov.cn:443?transport=tcp"],
      "username": "exam", "credential": "…"}]

Empty (the default): no ICE servers, only direct candidates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

MAX_SERVERS = 8
MAX_URLS = 8
_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


class IceSettingsError(ValueError):
    """PROCTOR_ICE_SERVERS is malformed; the message says how."""


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def as_json(self) -> dict[str, object]:
        """The browser's ``RTCIceServer`` dictionary."""
        out: dict[str, object] = {"urls": list(self.urls)}
        if self.username is not None:
            out |= {"username": self.username, "credential": self.credential}
        return out


def _server(item: object, index: int) -> IceServer:
    where = f"PROCTOR_ICE_SERVERS[{index}]"
    if not isinstance(item, dict) or not set(item) <= {"urls", "username", "credential"}:
        raise IceSettingsError(f"{where} must be an object with urls, username, credential")
    urls = item.get("urls")
    listed = [urls] if isinstance(urls, str) else urls
    if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_URLS:
        raise IceSettingsError(f"{where}.urls must be a URL or a list of 1 to {MAX_URLS} URLs")
    for url in listed:
        if not isinstance(url, str) or not url.startswith(_SCHEMES) or len(url) > 512:
            raise IceSettingsError(f"{where}.urls: {url!r} is not a stun:, turn: or turns: URL")
    username, credential = item.get("username"), item.get("credential")
    relay = any(u.startswith(("turn:", "turns:")) for u in listed)
    if relay and not (isinstance(username, str) and username and isinstance(credential, str)):
        raise IceSettingsError(f"{where}: a turn: server needs a username and a credential")
    if not relay and (username is not None or credential is not None):
        raise IceSettingsError(f"{where}: only turn: servers take a username and credential")
    return IceServer(tuple(listed), username, credential)


def load_ice_servers(env: Mapping[str, str]) -> tuple[IceServer, ...]:
    raw = env.get("PROCTOR_ICE_SERVERS", "").strip()
    if not raw:
        return ()
    try:
        items = json.loads(raw)
    except ValueError:
        raise IceSettingsError("PROCTOR_ICE_SERVERS must be a JSON list") from None
    if not isinstance(items, list) or len(items) > MAX_SERVERS:
        raise IceSettingsError(f"PROCTOR_ICE_SERVERS must be a JSON list of at most {MAX_SERVERS}")
    return tuple(_server(item, i) for i, item in enumerate(items))
