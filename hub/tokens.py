"""Signed, short-lived device tokens: one attempt, one device.

Format: ``v1.<attempt_id>.<device>.<expires_unix>.<hmac-sha256 hex>``. The
tokens are handed out by the attempt start call and presented on the
websocket and signalling endpoints; the server keeps no token state.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from hub.errors import TokenError

DEVICES = ("pc", "phone")


@dataclass(frozen=True)
class DeviceClaim:
    attempt_id: int
    device: str
    expires_at: int


def _mac(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def sign_device_token(secret: bytes, attempt_id: int, device: str, now: float, ttl_s: int) -> str:
    assert device in DEVICES, device
    assert attempt_id > 0 and ttl_s > 0
    body = f"v1.{attempt_id}.{device}.{int(now) + ttl_s}"
    return f"{body}.{_mac(secret, body)}"


def verify_device_token(secret: bytes, token: str, now: float) -> DeviceClaim:
    """Return the claim of a valid token; raise ``TokenError`` otherwise."""
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != "v1":
        raise TokenError("token_malformed", "device token is malformed")
    _, attempt, device, expires, mac = parts
    if not hmac.compare_digest(_mac(secret, ".".join(parts[:4])), mac):
        raise TokenError("token_invalid", "device token signature does not match")
    if device not in DEVICES or not attempt.isdigit() or not expires.isdigit():
        raise TokenError("token_malformed", "device token is malformed")
    if int(expires) < now:
        # a close reason is cut at 120 characters: short, and no "start again"
        # — a device renews its token while it is valid (docs/protocol.md, Tokens)
        raise TokenError(
            "token_expired", "device token has expired; renew tokens before they expire"
        )
    return DeviceClaim(attempt_id=int(attempt), device=device, expires_at=int(expires))
