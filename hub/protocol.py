"""The hub's websocket protocol, version 1, without I/O.

A :class:`ClientProtocol` per connection turns frames into typed messages and
decides what to answer, in the manner of ``websockets``' sans-I/O protocol:
frames and ``now`` in, actions out. It enforces the order (``hello`` first),
the device's allowed message types, sizes, per-connection sequence numbers
(a message at or below the last acknowledged number is a duplicate: it is
acknowledged again and never delivered twice) and a token-bucket rate limit.
The wire format is documented in ``docs/protocol.md``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from hub.errors import (
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED_DATA,
    ProtocolError,
)

PROTOCOL_VERSION = 1
MAX_TEXT_BYTES = 4096
MAX_PHOTO_BYTES = 2 * 1024 * 1024
PHOTO_MAGIC = b"PH"
PHOTO_HEADER = struct.Struct(">2sII")  # magic, seq, capture request id
MAX_SEQ = 2**53  # JSON integers stay exact in JavaScript
JPEG_MAGIC = b"\xff\xd8\xff"

FOCUS_LOST_CAUSES = ("blur", "visibility", "pagehide")
CAMERA_STATES = ("live", "lost", "asleep", "off")


# ----- client messages ----------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    last_seen: int  # the last server message number this device saw
    resume: bool


@dataclass(frozen=True)
class Heartbeat:
    seq: int


@dataclass(frozen=True)
class Focus:
    seq: int
    state: str  # "lost" | "back"
    cause: str  # for "lost": blur | visibility | pagehide


@dataclass(frozen=True)
class ClickOutside:
    seq: int


@dataclass(frozen=True)
class CameraState:
    seq: int
    state: str


@dataclass(frozen=True)
class PhoneStart:
    seq: int


@dataclass(frozen=True)
class PageReturn:
    seq: int


@dataclass(frozen=True)
class PhoneEnd:
    seq: int
    confirmed: bool


@dataclass(frozen=True)
class Submit:
    seq: int


@dataclass(frozen=True)
class Photo:
    seq: int
    request_id: int
    jpeg: bytes


SeqMessage = (
    Heartbeat
    | Focus
    | ClickOutside
    | CameraState
    | PhoneStart
    | PageReturn
    | PhoneEnd
    | Submit
    | Photo
)
ClientMessage = Hello | SeqMessage

# Which device may send which message type.
ALLOWED: dict[str, frozenset[str]] = {
    "pc": frozenset({"hello", "heartbeat", "focus", "click_outside", "camera", "submit"}),
    "phone": frozenset({"hello", "heartbeat", "camera", "phone_start", "page_return", "phone_end"}),
}


def _int(data: dict[str, Any], key: str, low: int = 0, high: int = MAX_SEQ) -> int:
    value = data.get(key)
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError("bad_field", f"{key!r} must be an integer in [{low}, {high}]")
    return value


def _choice(data: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = data.get(key)
    if not isinstance(value, str) or value not in choices:
        raise ProtocolError("bad_field", f"{key!r} must be one of {', '.join(choices)}")
    return value


def parse_text(text: str, device: str) -> ClientMessage:
    """Parse one text frame from ``device``; raise ``ProtocolError`` on bad input."""
    if len(text) > MAX_TEXT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise ProtocolError(
            "too_big", f"text frames are limited to {MAX_TEXT_BYTES} bytes", CLOSE_TOO_BIG
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "a message is a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "a message needs a string 'type'")
    if kind not in ALLOWED["pc"] | ALLOWED["phone"]:
        raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}")
    if kind not in ALLOWED[device]:
        raise ProtocolError("wrong_device", f"{kind!r} is not sent by the {device}")
    if kind == "hello":
        version = data.get("v")
        if version != PROTOCOL_VERSION:
            raise ProtocolError(
                "bad_version", f"protocol version {PROTOCOL_VERSION} is required", CLOSE_POLICY
            )
        resume = data.get("resume", False)
        if not isinstance(resume, bool):
            raise ProtocolError("bad_field", "'resume' must be a boolean")
        return Hello(last_seen=_int(data, "last_seen") if "last_seen" in data else 0, resume=resume)
    seq = _int(data, "seq", low=1)
    if kind == "heartbeat":
        return Heartbeat(seq)
    if kind == "focus":
        state = _choice(data, "state", ("lost", "back"))
        cause = _choice(data, "cause", FOCUS_LOST_CAUSES) if state == "lost" else ""
        return Focus(seq, state, cause)
    if kind == "click_outside":
        return ClickOutside(seq)
    if kind == "camera":
        return CameraState(seq, _choice(data, "state", CAMERA_STATES))
    if kind == "phone_start":
        return PhoneStart(seq)
    if kind == "page_return":
        return PageReturn(seq)
    if kind == "phone_end":
        confirmed = data.get("confirmed", False)
        if not isinstance(confirmed, bool):
            raise ProtocolError("bad_field", "'confirmed' must be a boolean")
        return PhoneEnd(seq, confirmed)
    assert kind == "submit", kind
    return Submit(seq)


def parse_binary(data: bytes, device: str) -> Photo:
    """Parse a binary frame: a photo from the phone (``PH``, seq, request id, JPEG)."""
    if device != "phone":
        raise ProtocolError(
            "binary_not_expected", "the PC sends text frames only", CLOSE_UNSUPPORTED_DATA
        )
    if len(data) > PHOTO_HEADER.size + MAX_PHOTO_BYTES:
        raise ProtocolError(
            "too_big", f"photos are limited to {MAX_PHOTO_BYTES} bytes", CLOSE_TOO_BIG
        )
    if len(data) < PHOTO_HEADER.size or data[:2] != PHOTO_MAGIC:
        raise ProtocolError("bad_photo", "a binary frame is 'PH', seq, request id, then a JPEG")
    _, seq, request_id = PHOTO_HEADER.unpack_from(data)
    jpeg = bytes(data[PHOTO_HEADER.size :])
    if seq < 1:
        raise ProtocolError("bad_field", "'seq' must be at least 1")
    if not jpeg.startswith(JPEG_MAGIC):
        raise ProtocolError("bad_photo", "the photo is not a JPEG")
    return Photo(seq=seq, request_id=request_id, jpeg=jpeg)


def encode_photo(seq: int, request_id: int, jpeg: bytes) -> bytes:
    """The binary frame the phone sends (used by clients and tests)."""
    return PHOTO_HEADER.pack(PHOTO_MAGIC, seq, request_id) + jpeg


def encode(message: dict[str, Any]) -> str:
    """Encode a server message as compact JSON text."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def ack_text(seq: int, duplicate: bool = False) -> str:
    """The encoded ack (the hot path: no dict, no encoder)."""
    if duplicate:
        return f'{{"type":"ack","seq":{seq},"duplicate":true}}'
    return f'{{"type":"ack","seq":{seq}}}'


def error_message(code: str, reason: str, seq: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "error", "code": code, "reason": reason}
    if seq is not None:
        message["seq"] = seq
    return message


# ----- rate limiting --------------------------------------------------------------


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up. Time passed in."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float | None = None

    def __post_init__(self) -> None:
        assert self.rate > 0 and self.burst >= 1
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float, cost: float = 1.0) -> bool:
        if self.updated is not None and now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        if self.updated is None or now > self.updated:
            self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


# ----- the per-connection protocol ------------------------------------------------


@dataclass(frozen=True)
class Deliver:
    """A new message for the session; acknowledge it with :meth:`ClientProtocol.ack`
    once its effects are stored."""

    message: ClientMessage


@dataclass(frozen=True)
class Reply:
    """Send this message to the client now."""

    message: dict[str, Any]


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


Action = Deliver | Reply | Close


class ClientProtocol:
    """One connection's protocol state: hello first, then numbered messages."""

    def __init__(
        self,
        device: str,
        rate: float = 20.0,
        burst: float = 60.0,
        error_budget: int = 20,
    ) -> None:
        assert device in ALLOWED, device
        self.device = device
        self.bucket = TokenBucket(rate=rate, burst=burst)
        self.error_budget = error_budget
        self.greeted = False
        self.closed: Close | None = None
        self.last_delivered = 0  # highest seq handed to the session
        self.server_seq = 0  # numbers the server messages of this connection

    def start(self, last_acked: int) -> None:
        """After hello: the highest seq of this device already stored (it may
        come from another connection or another hub process)."""
        assert not self.greeted
        self.greeted = True
        self.last_delivered = last_acked

    def _close(self, code: int, reason: str) -> list[Action]:
        self.closed = Close(code, reason)
        return [self.closed]

    def _fail(self, error: ProtocolError, seq: int | None = None) -> list[Action]:
        if error.close_code is not None:
            return self._close(error.close_code, f"{error.code}: {error.reason}")
        self.error_budget -= 1
        if self.error_budget < 0:
            return self._close(CLOSE_POLICY, "too_many_errors: too many bad messages")
        return [Reply(error_message(error.code, error.reason, seq))]

    def receive_text(self, text: str, now: float) -> list[Action]:
        return self._receive(text, now)

    def receive_bytes(self, data: bytes, now: float) -> list[Action]:
        return self._receive(data, now)

    def _receive(self, frame: str | bytes, now: float) -> list[Action]:
        if self.closed is not None:
            return []
        if not self.bucket.take(now):
            return self._close(CLOSE_POLICY, "rate_limited: too many messages, slow down")
        try:
            if isinstance(frame, str):
                message = parse_text(frame, self.device)
            else:
                message = parse_binary(frame, self.device)
        except ProtocolError as error:
            return self._fail(error)
        if isinstance(message, Hello):
            if self.greeted:
                return self._fail(ProtocolError("hello_twice", "hello is sent once"))
            return [Deliver(message)]
        if not self.greeted:
            return self._close(CLOSE_POLICY, "hello_first: the first message must be hello")
        seq = message.seq
        if seq <= self.last_delivered:
            # A resend after a reconnect: acknowledged again, never applied twice.
            return [Reply({"type": "ack", "seq": seq, "duplicate": True})]
        if seq != self.last_delivered + 1:
            return self._fail(
                ProtocolError(
                    "seq_gap",
                    f"expected seq {self.last_delivered + 1}, resend from there",
                ),
                seq,
            )
        self.last_delivered = seq
        return [Deliver(message)]

    def ack(self, seq: int, duplicate: bool = False) -> dict[str, Any]:
        """The ack for a delivered message whose effects are stored."""
        message: dict[str, Any] = {"type": "ack", "seq": seq}
        if duplicate:
            message["duplicate"] = True
        return message

    def next_number(self) -> int:
        """The next server message number (``n``) of this connection."""
        self.server_seq += 1
        return self.server_seq

    def number(self, message: dict[str, Any]) -> dict[str, Any]:
        """Give a server message its per-connection number (``n``)."""
        return {**message, "n": self.next_number()}
