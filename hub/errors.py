"""Errors of the realtime hub.

Every error carries a machine code and a readable reason. Protocol errors also
carry the websocket close code they map onto (``None``: answer with an error
message and keep the connection open).
"""

from __future__ import annotations

from proctor.errors import ProctorError

# Websocket close codes used by the hub (RFC 6455 and the 4000-4999 private range).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013
CLOSE_BAD_TOKEN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_REPLACED = 4409
CLOSE_ENDED = 4410


class HubError(ProctorError):
    """Base of every hub error: a stable ``code`` and a readable ``reason``;
    ``close_code`` is the websocket close code it maps onto, ``http_status``
    the status when an HTTP endpoint meets it (the project's one error base)."""

    close_code: int | None = CLOSE_POLICY
    http_status = 409


class ProtocolError(HubError):
    """A client frame broke the protocol.

    ``close_code`` is the websocket close code to send, or ``None`` when the
    connection stays open and the client gets an ``error`` message.
    """

    def __init__(self, code: str, reason: str, close_code: int | None = None) -> None:
        super().__init__(code, reason)
        self.close_code = close_code


class SessionError(HubError):
    """An event that the session state does not allow (an illegal transition)."""

    close_code = None


class SessionEnded(SessionError):
    """The attempt has ended: no event changes it any more."""

    def __init__(self, end_reason: str) -> None:
        super().__init__("ended", f"the attempt has ended ({end_reason})")
        self.end_reason = end_reason


class NotAllowed(SessionError):
    """The event is well formed but not allowed in the current state."""


class TokenError(HubError):
    """A device token is malformed, forged, expired or for another device."""

    close_code = CLOSE_BAD_TOKEN
    http_status = 401


class AuthError(HubError):
    """The token or cookie is valid but does not grant this connection."""

    close_code = CLOSE_FORBIDDEN
    http_status = 404
