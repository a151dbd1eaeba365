"""Errors of the realtime hub: each carries a code, a reason and a close code."""

from __future__ import annotations


class HubError(Exception):
    """Base: ``code`` is machine-readable, ``reason`` readable, ``close_code`` for websockets."""

    close_code = 1008

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class TokenError(HubError):
    """A device token is malformed, forged, expired or for another device."""

    close_code = 4401
