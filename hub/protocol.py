"""The hub's websocket protocol, version 1, without I/O.

A :class:`ClientProtocol` per connection turns frames into typed messages and
decides what to answer, in the manner of ``websockets``' sans-I/O protocol:
frames and ``now`` in, actions out. It enforces the order (``hello`` first),
the device's allowed message types, sizes, per-connection sequence numbers
(a message at or below the last acknowledged number is a duplicate: it is
acknowledged again and never delivered twice) and a token-bucket rate limit.
The wire format is documented in ``docs/protocol.md``.

The client messages are frozen ``msgspec.Struct`` types in a union tagged by
``type``: each struct declares its fields' rules (``seq`` an integer in
[1, 2**53], choices as ``Literal``, optional fields with defaults; a boolean is
never an integer), and one cached decoder per device knows only the types that
device sends. Unknown extra fields are ignored. msgspec reports the first fault
in document order, while the protocol ranks faults (malformed JSON, then the
envelope: object, ``type``, device, then the version, then the fields), so a
rejected frame is read again, untyped, to give the code the old parser gave.
Only bad frames pay for that second read.

The structs are for declarative, checked validation; no speed is claimed
for them. :func:`encode` and :func:`decode` are msgspec's JSON for everything
the hub writes and reads back itself (the shared session state, stream
records, pub/sub envelopes), measured against ``json`` on a 762-byte session
state, CPU time per call (docs/benchmarks.md, issue #16): encode 2.0 µs vs
25.2 µs for ``json.dumps``, decode 4.5 µs vs 15.2 µs for ``json.loads``.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

import msgspec

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

FocusState = Literal["lost", "back"]
FocusCause = Literal["blur", "visibility", "pagehide"]
CameraHint = Literal["live", "lost", "asleep", "off"]
FOCUS_LOST_CAUSES: tuple[str, ...] = get_args(FocusCause)
CAMERA_STATES: tuple[str, ...] = get_args(CameraHint)

# A client sequence number, and the server message number a hello reports.
Seq = Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
SeenNumber = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
Version = Annotated[int, msgspec.Meta(ge=PROTOCOL_VERSION, le=PROTOCOL_VERSION)]


# ----- client messages ----------------------------------------------------------


class _ClientStruct(msgspec.Struct, frozen=True, tag_field="type", gc=False):
    """A text message from a device; the subclass's ``tag`` is its ``type``.
    ``gc=False``: the fields are scalars, no cycle can pass through them."""


class Hello(_ClientStruct, frozen=True, tag="hello"):
    v: Version  # the protocol version the client speaks (checked before the fields)
    last_seen: SeenNumber = 0  # the last server message number this device saw
    resume: bool = False


class Heartbeat(_ClientStruct, frozen=True, tag="heartbeat"):
    seq: Seq


class Focus(_ClientStruct, frozen=True, tag="focus"):
    seq: Seq
    state: FocusState
    cause: str = ""  # for "lost": blur | visibility | pagehide; "" for "back"

    def __post_init__(self) -> None:
        # msgspec turns this ValueError into a ValidationError (bad_field)
        if self.state == "lost" and self.cause not in FOCUS_LOST_CAUSES:
            raise ValueError(f"'cause' must be one of {', '.join(FOCUS_LOST_CAUSES)}")
        if self.state == "back" and self.cause:
            msgspec.structs.force_setattr(self, "cause", "")  # ignored, as always


class ClickOutside(_ClientStruct, frozen=True, tag="click_outside"):
    seq: Seq


class CameraState(_ClientStruct, frozen=True, tag="camera"):
    seq: Seq
    state: CameraHint


class PhoneStart(_ClientStruct, frozen=True, tag="phone_start"):
    seq: Seq


class PageReturn(_ClientStruct, frozen=True, tag="page_return"):
    seq: Seq


class PhoneEnd(_ClientStruct, frozen=True, tag="phone_end"):
    seq: Seq
    confirmed: bool = False


class Submit(_ClientStruct, frozen=True, tag="submit"):
    seq: Seq


WarningId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class WarningAck(_ClientStruct, frozen=True, tag="warning_ack"):
    """我知道了: the candidate acknowledges the invigilator's warning ``id``
    (rule H4); the session refuses an id it never sent, or one acknowledged."""

    seq: Seq
    id: WarningId


# ----- contact (rule L1, hub/contact.py) -----

ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
ContactText = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
MessageIndex = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class Say(_ClientStruct, frozen=True, tag="say"):
    """The candidate's text to the invigilators; ``cid`` is the device's own
    id of it (a resend after a drop is stored once)."""

    seq: Seq
    cid: ClientId
    text: ContactText

    def __post_init__(self) -> None:
        text = self.text.strip()
        if not text:
            raise ValueError("'text' must not be blank")
        msgspec.structs.force_setattr(self, "text", text)


class Call(_ClientStruct, frozen=True, tag="call"):
    """呼叫监考员: raises the candidate's hand on the wall until answered."""

    seq: Seq
    cid: ClientId


class Seen(_ClientStruct, frozen=True, tag="seen"):
    """The device holds every contact message up to index ``upto``."""

    seq: Seq
    upto: MessageIndex


ContactMessage = Say | Call | Seen
CONTACT_MESSAGES = (Say, Call, Seen)


class Photo(msgspec.Struct, frozen=True, gc=False):
    """The phone's binary photo frame (built by :func:`parse_binary`, no tag)."""

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
    | WarningAck
    | Say
    | Call
    | Seen
    | Photo
)
ClientMessage = Hello | SeqMessage

# Which device may send which text message type: the decoder of a device
# knows only these, so another device's type fails on its tag (wrong_device).
PC_MESSAGES = (
    Hello | Heartbeat | Focus | ClickOutside | CameraState | Submit | WarningAck | ContactMessage
)
PHONE_MESSAGES = (
    Hello | Heartbeat | CameraState | PhoneStart | PageReturn | PhoneEnd | ContactMessage
)
_DEVICE_MESSAGES = {"pc": PC_MESSAGES, "phone": PHONE_MESSAGES}


def _tag(cls: type[msgspec.Struct]) -> str:
    tag = cls.__struct_config__.tag
    assert isinstance(tag, str), cls
    return tag


TEXT_MESSAGES: dict[str, type[msgspec.Struct]] = {
    _tag(cls): cls for union in _DEVICE_MESSAGES.values() for cls in get_args(union)
}
ALLOWED: dict[str, frozenset[str]] = {
    device: frozenset(_tag(cls) for cls in get_args(union))
    for device, union in _DEVICE_MESSAGES.items()
}
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    device: msgspec.json.Decoder(union) for device, union in _DEVICE_MESSAGES.items()
}
_UNTYPED = msgspec.json.Decoder()  # for ranking the faults of a rejected frame


def _rule(name: str, kind: msgspec.inspect.Type, annotation: Any) -> str:
    """The readable rule of one declared field (the ``bad_field`` reason)."""
    if isinstance(kind, msgspec.inspect.IntType):
        return f"{name!r} must be an integer in [{kind.ge}, {kind.le}]"
    if isinstance(kind, msgspec.inspect.BoolType):
        return f"{name!r} must be a boolean"
    if isinstance(kind, msgspec.inspect.LiteralType):
        # the choices in their declared order (msgspec.inspect sorts them)
        return f"{name!r} must be one of {', '.join(map(str, get_args(annotation)))}"
    if isinstance(kind, msgspec.inspect.StrType):
        if kind.pattern is not None:
            return f"{name!r} must be 1–{kind.max_length} letters, digits, '-' or '_'"
        if kind.max_length is not None:
            return f"{name!r} must be a string of 1–{kind.max_length} characters"
        return f"{name!r} must be a string"
    return f"{name!r} is invalid"


def _rules(cls: type[msgspec.Struct]) -> dict[str, str]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType), cls
    declared = {field.name: field.type for field in msgspec.structs.fields(cls)}
    return {
        field.name: _rule(field.name, field.type, declared[field.name]) for field in info.fields
    }


RULES: dict[str, dict[str, str]] = {tag: _rules(cls) for tag, cls in TEXT_MESSAGES.items()}

# msgspec's wording: "<detail> - at `$.<field>`" or "... required field `<field>`"
_AT_FIELD = re.compile(r" - at `\$\.([A-Za-z_]\w*)`$")
_MISSING_FIELD = re.compile(r"^Object missing required field `([A-Za-z_]\w*)`")


def _too_big() -> ProtocolError:
    return ProtocolError(
        "too_big", f"text frames are limited to {MAX_TEXT_BYTES} bytes", CLOSE_TOO_BIG
    )


def _bad_json() -> ProtocolError:
    return ProtocolError("bad_json", "the frame is not valid JSON")


def parse_text(text: str, device: str) -> ClientMessage:
    """Parse one text frame from ``device``; raise ``ProtocolError`` on bad input."""
    if len(text) > MAX_TEXT_BYTES:
        raise _too_big()
    # bytes, not str: a lone surrogate cannot make msgspec raise UnicodeEncodeError
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_TEXT_BYTES:
        raise _too_big()
    try:
        message: ClientMessage = _DECODERS[device].decode(raw)
    except msgspec.ValidationError as error:  # (a DecodeError: caught first)
        raise _rejected(raw, device, str(error)) from None
    except (msgspec.DecodeError, RecursionError):
        raise _bad_json() from None
    return message


def _rejected(raw: bytes, device: str, detail: str) -> ProtocolError:
    """The error for a frame the typed decoder rejected, ranked as the protocol
    ranks faults (docs/protocol.md, "Bad input")."""
    try:
        data = _UNTYPED.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return _bad_json()  # malformed further on than the first bad value
    if not isinstance(data, dict):
        return ProtocolError("bad_message", "a message is a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        return ProtocolError("bad_message", "a message needs a string 'type'")
    if kind not in TEXT_MESSAGES:
        return ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}")
    if kind not in ALLOWED[device]:
        return ProtocolError("wrong_device", f"{kind!r} is not sent by the {device}")
    version = data.get("v")
    if kind == "hello" and (type(version) is not int or version != PROTOCOL_VERSION):
        return ProtocolError(
            "bad_version", f"protocol version {PROTOCOL_VERSION} is required", CLOSE_POLICY
        )
    found = _AT_FIELD.search(detail) or _MISSING_FIELD.match(detail)
    field = found.group(1) if found else None
    if field == "type":  # the tag is valid yet failed: a second, different "type" key
        return ProtocolError("bad_message", "a message has one 'type'")
    if field is not None and field in RULES[kind]:
        return ProtocolError("bad_field", RULES[kind][field])
    return ProtocolError("bad_field", detail[:200])  # a rule across fields (__post_init__)


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


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()


def encode(message: Any) -> str:
    """Encode a server message (or any JSON value the hub stores: the session
    state, records, envelopes) as compact JSON text (non-ASCII kept as UTF-8).

    The text is a JSON object starting ``{"``, as ``Connection.writer`` in
    ``hub/ws.py`` splices ``"n"`` in after the brace. It is byte for byte what
    ``json.dumps(message, ensure_ascii=False, separators=(",", ":"))`` gives
    for the hub's messages, with two differences: a float needing an exponent
    is written ``1e-5``/``1e16`` rather than ``1e-05``/``1e+16`` (the same
    number), and NaN or an infinity becomes ``null`` rather than text that is
    not JSON. A string with a lone surrogate (possible only in text that came
    from a ``\\ud800`` escape) cannot be UTF-8: it is escaped as ASCII instead.
    """
    try:
        return _ENCODER.encode(message).decode()
    except UnicodeEncodeError:
        return json.dumps(message, separators=(",", ":"))


def decode(text: str | bytes) -> Any:
    """Decode JSON text the hub wrote itself (the shared state, envelopes);
    raises ``ValueError`` (``msgspec.DecodeError``) on text that is not JSON."""
    return _DECODER.decode(text)


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
