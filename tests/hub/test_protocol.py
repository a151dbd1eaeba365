"""The sans-I/O websocket protocol: parsing, order, seq/ack, limits, fuzzing."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED_DATA, ProtocolError
from hub.protocol import (
    ALLOWED,
    MAX_PHOTO_BYTES,
    MAX_SEQ,
    MAX_TEXT_BYTES,
    TEXT_MESSAGES,
    CameraState,
    ClientProtocol,
    Close,
    Deliver,
    Focus,
    Heartbeat,
    Hello,
    PhoneEnd,
    Photo,
    Reply,
    TokenBucket,
    encode,
    encode_photo,
    parse_text,
)
from hub.session import Camera, Rules, Session

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def hello(resume: bool = False) -> str:
    return json.dumps({"type": "hello", "v": 1, "last_seen": 0, "resume": resume})


def msg(kind: str, seq: int, **fields: object) -> str:
    return json.dumps({"type": kind, "seq": seq, **fields})


def greeted(device: str = "pc", last_acked: int = 0, **kw: float) -> ClientProtocol:
    proto = ClientProtocol(device, **kw)  # type: ignore[arg-type]
    [action] = proto.receive_text(hello(), 0.0)
    assert isinstance(action, Deliver) and isinstance(action.message, Hello)
    proto.start(last_acked)
    return proto


def test_messages_are_delivered_in_order() -> None:
    proto = greeted()
    [a] = proto.receive_text(msg("heartbeat", 1), 1.0)
    [b] = proto.receive_text(msg("focus", 2, state="lost", cause="blur"), 1.1)
    assert a == Deliver(Heartbeat(1))
    assert b == Deliver(Focus(2, "lost", "blur"))
    assert proto.ack(2) == {"type": "ack", "seq": 2}


def test_replayed_seq_is_acked_again_not_delivered() -> None:
    # nothing counted twice: a resend after reconnect is a duplicate
    proto = greeted(last_acked=5)
    [action] = proto.receive_text(msg("focus", 5, state="lost", cause="blur"), 1.0)
    assert action == Reply({"type": "ack", "seq": 5, "duplicate": True})
    [action] = proto.receive_text(msg("heartbeat", 6), 1.0)
    assert action == Deliver(Heartbeat(6))


def test_gap_in_seq_is_an_error_naming_the_expected_seq() -> None:
    proto = greeted()
    [action] = proto.receive_text(msg("heartbeat", 3), 1.0)
    assert isinstance(action, Reply)
    assert action.message["code"] == "seq_gap"
    assert "expected seq 1" in action.message["reason"]


def test_hello_must_come_first() -> None:
    proto = ClientProtocol("pc")
    [action] = proto.receive_text(msg("heartbeat", 1), 0.0)
    assert isinstance(action, Close) and action.code == CLOSE_POLICY


def test_wrong_protocol_version_closes() -> None:
    proto = ClientProtocol("pc")
    [action] = proto.receive_text(json.dumps({"type": "hello", "v": 99}), 0.0)
    assert isinstance(action, Close) and "bad_version" in action.reason


def test_malformed_json_gets_an_error_and_the_connection_stays() -> None:
    proto = greeted()
    [action] = proto.receive_text("{not json", 1.0)
    assert isinstance(action, Reply) and action.message["code"] == "bad_json"
    assert proto.closed is None
    [action] = proto.receive_text(msg("heartbeat", 1), 1.0)
    assert isinstance(action, Deliver)


def test_unknown_type_and_wrong_device_are_errors() -> None:
    proto = greeted("phone")
    [action] = proto.receive_text(msg("teleport", 1), 1.0)
    assert isinstance(action, Reply) and action.message["code"] == "unknown_type"
    [action] = proto.receive_text(msg("submit", 1), 1.0)
    assert isinstance(action, Reply) and action.message["code"] == "wrong_device"


def test_bad_fields_are_errors() -> None:
    proto = greeted()
    for text in (
        msg("focus", 1, state="sideways", cause="blur"),
        msg("focus", 1, state="lost", cause="mouse"),
        json.dumps({"type": "heartbeat", "seq": "1"}),
        json.dumps({"type": "heartbeat", "seq": True}),
        json.dumps({"type": "heartbeat", "seq": -1}),
        json.dumps([1, 2]),
        json.dumps({"seq": 1}),
    ):
        [action] = proto.receive_text(text, 1.0)
        assert isinstance(action, Reply) and action.message["type"] == "error", text


def _error(text: str, device: str = "pc") -> ProtocolError:
    with pytest.raises(ProtocolError) as raised:
        parse_text(text, device)
    return raised.value


SEQ_RULE = f"'seq' must be an integer in [1, {MAX_SEQ}]"


@pytest.mark.parametrize(
    ("device", "message", "reason"),
    [
        ("pc", {"type": "heartbeat", "seq": "1"}, SEQ_RULE),
        ("pc", {"type": "heartbeat", "seq": True}, SEQ_RULE),  # a boolean is no integer
        ("pc", {"type": "heartbeat", "seq": 1.0}, SEQ_RULE),
        ("pc", {"type": "heartbeat", "seq": 0}, SEQ_RULE),
        ("pc", {"type": "heartbeat", "seq": MAX_SEQ + 1}, SEQ_RULE),
        ("pc", {"type": "heartbeat", "seq": None}, SEQ_RULE),
        ("pc", {"type": "heartbeat"}, SEQ_RULE),  # missing
        ("pc", {"seq": "x", "type": "submit"}, SEQ_RULE),  # the type need not come first
        (
            "pc",
            {"type": "focus", "seq": 1, "state": "sideways"},
            "'state' must be one of lost, back",
        ),
        ("pc", {"type": "focus", "seq": 1}, "'state' must be one of lost, back"),
        (
            "pc",
            {"type": "focus", "seq": 1, "state": "lost", "cause": "mouse"},
            "'cause' must be one of blur, visibility, pagehide",
        ),
        (
            "pc",
            {"type": "focus", "seq": 1, "state": "lost"},  # 'lost' needs its cause
            "'cause' must be one of blur, visibility, pagehide",
        ),
        (
            "pc",
            {"type": "camera", "seq": 1, "state": "on"},
            "'state' must be one of live, lost, asleep, off",
        ),
        ("phone", {"type": "phone_end", "seq": 1, "confirmed": 1}, "'confirmed' must be a boolean"),
        (
            "phone",
            {"type": "phone_end", "seq": 1, "confirmed": "yes"},
            "'confirmed' must be a boolean",
        ),
        ("pc", {"type": "hello", "v": 1, "resume": 1}, "'resume' must be a boolean"),
        ("pc", {"type": "hello", "v": 1, "resume": None}, "'resume' must be a boolean"),
        (
            "phone",
            {"type": "hello", "v": 1, "last_seen": -1},
            f"'last_seen' must be an integer in [0, {MAX_SEQ}]",
        ),
        (
            "phone",
            {"type": "hello", "v": 1, "last_seen": "3"},
            f"'last_seen' must be an integer in [0, {MAX_SEQ}]",
        ),
    ],
)
def test_a_wrong_field_is_bad_field_naming_the_field(
    device: str, message: dict[str, Any], reason: str
) -> None:
    error = _error(json.dumps(message), device)
    assert (error.code, error.reason, error.close_code) == ("bad_field", reason, None)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "bad_json"),
        ("", "bad_json"),
        ('{"type": "heartbeat", "seq": 1} trailing', "bad_json"),
        ('{"type": "heartbeat", "seq": 1, "x": NaN}', "bad_json"),  # not JSON (RFC 8259)
        ("[" * 2000 + "]" * 2000, "bad_json"),  # too deep, as json.loads found it
        ('{"type": "heartbeat", "seq": 1, "x": ' + "[" * 2000 + "]" * 2000 + "}", "bad_json"),
        # malformed further on than a bad field: malformed JSON ranks first
        ('{"type": "heartbeat", "seq": "x", junk', "bad_json"),
        ('{"type": "teleport", "seq": 1,', "bad_json"),
        ("[1, 2]", "bad_message"),
        ('"hello"', "bad_message"),
        ("3", "bad_message"),
        ('{"seq": 1}', "bad_message"),
        ('{"type": 7, "seq": 1}', "bad_message"),
        ('{"type": null, "seq": 1}', "bad_message"),
        ('{"type": "heartbeat", "type": "focus", "seq": 1}', "bad_message"),
        ('{"type": "teleport", "seq": 1}', "unknown_type"),
        ('{"type": "teleport", "seq": "x"}', "unknown_type"),  # the type ranks above fields
        ('{"type": "phone_start", "seq": 1}', "wrong_device"),
        ('{"type": "phone_end", "seq": "x", "confirmed": 3}', "wrong_device"),
    ],
)
def test_faults_are_ranked_as_the_protocol_ranks_them(text: str, code: str) -> None:
    error = _error(text)
    assert error.code == code, error.reason
    assert error.close_code is None and error.reason


def test_unknown_type_reason_is_short() -> None:
    error = _error(json.dumps({"type": "x" * 1000, "seq": 1}))
    assert error.code == "unknown_type" and len(error.reason) < 80


@pytest.mark.parametrize("device", ["pc", "phone"])
def test_a_type_of_the_other_device_is_wrong_device(device: str) -> None:
    other = "phone" if device == "pc" else "pc"
    for kind in sorted(ALLOWED[other] - ALLOWED[device]):
        error = _error(msg(kind, 1, state="lost", cause="blur"), device)
        assert error.code == "wrong_device" and device in error.reason, kind


CONTACT = {"say", "call", "seen"}  # rule L1, both devices


def test_the_devices_send_the_types_of_the_protocol() -> None:
    # docs/protocol.md, "Client messages": the struct tags are the wire types
    assert ALLOWED == {
        "pc": {"hello", "heartbeat", "focus", "click_outside", "camera", "submit", "warning_ack"}
        | CONTACT,
        "phone": {"hello", "heartbeat", "camera", "phone_start", "page_return", "phone_end"}
        | CONTACT,
    }


@pytest.mark.parametrize(
    "message",
    [
        {"type": "hello", "v": 2},
        {"type": "hello"},
        {"type": "hello", "v": "1"},
        {"type": "hello", "v": True},  # a boolean is no version (json.loads let it pass)
        {"type": "hello", "v": 1.0},
        # the version ranks above the fields, wherever it stands in the object
        {"type": "hello", "resume": 1, "last_seen": -5, "v": 2},
    ],
)
def test_a_hello_of_another_version_closes_1008(message: dict[str, Any]) -> None:
    error = _error(json.dumps(message))
    assert (error.code, error.close_code) == ("bad_version", CLOSE_POLICY)


def test_optional_fields_take_their_defaults_and_extra_fields_are_ignored() -> None:
    hello = parse_text('{"type": "hello", "v": 1}', "phone")
    assert isinstance(hello, Hello) and (hello.last_seen, hello.resume) == (0, False)
    hello = parse_text('{"resume": true, "type": "hello", "last_seen": 9, "v": 1}', "pc")
    assert isinstance(hello, Hello) and (hello.last_seen, hello.resume) == (9, True)
    extra = {"pad": {"deep": [1, 2.5, None, "x"]}, "n": 3, "seq_": "x", "\u00e9": "é"}
    assert parse_text(msg("heartbeat", 1, **extra), "pc") == Heartbeat(1)
    assert parse_text(msg("phone_end", 2), "phone") == PhoneEnd(2, False)
    assert parse_text(msg("phone_end", 2, confirmed=True), "phone") == PhoneEnd(2, True)
    assert parse_text(msg("camera", MAX_SEQ, state="asleep"), "phone") == CameraState(
        MAX_SEQ, "asleep"
    )
    # a cause sent with 'back' is ignored, as before
    assert parse_text(msg("focus", 3, state="back", cause="blur"), "pc") == Focus(3, "back", "")
    assert parse_text(msg("focus", 3, state="back"), "pc") == Focus(3, "back", "")


def test_the_messages_are_frozen() -> None:
    message = parse_text(msg("heartbeat", 1), "pc")
    with pytest.raises(AttributeError):
        message.seq = 2  # type: ignore[misc]


def test_the_byte_limit_counts_utf8_bytes() -> None:
    # 1500 characters, 4500 bytes: too big though short in characters
    error = _error(f'{{"type":"heartbeat","seq":1,"pad":"{"界" * 1500}"}}')
    assert (error.code, error.close_code) == ("too_big", CLOSE_TOO_BIG)
    assert parse_text(f'{{"type":"heartbeat","seq":1,"pad":"{"界" * 1300}"}}', "pc") == Heartbeat(1)


# ----- server messages: the wire text of json.dumps --------------------------------


def _dumps(message: object) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def test_the_hub_messages_encode_as_json_dumps_did() -> None:
    # every message of a session's life, byte for byte (clients splice "n" in)
    t0 = 1_747_000_000.123456
    session = Session(attempt_id=42, started_at=t0, deadline_at=t0 + 3600, rules=Rules())
    outputs = [session.connect("pc", t0 + 1), session.connect("phone", t0 + 2)]
    outputs.append(session.camera_measured("pc", Camera.LIVE, t0 + 3.25))
    outputs.append(session.camera_measured("phone", Camera.LIVE, t0 + 4.5))
    for n in range(5):
        outputs.append(session.focus_lost("blur", t0 + 100 * (n + 1)))
        if not session.ended:
            outputs.append(session.focus_back(t0 + 100 * (n + 1) + 1.7))
    sent = [send.message for out in outputs for send in out.sends]
    assert {"violation", "ended", "state"} <= {m["type"] for m in sent}
    for message in [*sent, session.state_message(t0 + 3599.9996)]:
        text = encode(message)
        assert text == _dumps(message)
        spliced = f'{{"n":7,{text[1:]}'  # Connection.writer in hub/ws.py
        assert json.loads(spliced) == {"n": 7, **json.loads(text)}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    # the hub's floats: times and durations rounded to the millisecond
    | st.floats(-1e12, 1e12).map(lambda x: round(x, 3))
    | st.text()
    | st.sampled_from(list(Camera)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), json_values, min_size=1, max_size=6))
def test_encode_is_json_dumps_for_json_values(message: dict[str, Any]) -> None:
    assert encode(message) == _dumps(message)


def test_encode_keeps_utf8_and_escapes_lone_surrogates() -> None:
    message = {"type": "warn", "text": '请保持面部在画面内 \u2028 \x00 "q" é 😀'}
    assert encode(message) == _dumps(message)
    assert "请保持" in encode(message)
    # a lone surrogate is no UTF-8: escaped instead of failing at the send
    text = encode({"type": "warn", "text": "\ud800"})
    assert text == '{"type":"warn","text":"\\ud800"}' and text.isascii()
    # no NaN in the wire text: it is not JSON
    assert encode({"type": "x", "v": float("nan")}) == '{"type":"x","v":null}'


# ----- the documented messages are the structs ---------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _documented(operation: str) -> dict[str, dict[str, Any]]:
    """The JSON payloads of one AsyncAPI operation, by their ``type``."""
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    out = {}
    for ref in doc["operations"][operation]["messages"]:
        name = ref["$ref"].rsplit("/", 1)[-1]
        message = doc["components"]["messages"][name]
        if message.get("contentType") == "application/octet-stream":
            continue  # the photo: a binary frame, built by parse_binary
        payload = message["payload"]
        out[payload["properties"]["type"]["const"]] = payload
    return out


@pytest.mark.parametrize(("operation", "device"), [("pcSends", "pc"), ("phoneSends", "phone")])
def test_asyncapi_names_the_struct_tags_and_fields(operation: str, device: str) -> None:
    documented = _documented(operation)
    assert set(documented) == ALLOWED[device]
    for kind, payload in documented.items():
        fields = msgspec.structs.fields(TEXT_MESSAGES[kind])
        assert set(payload["properties"]) - {"type"} == {f.name for f in fields}, kind
        assert set(payload["required"]) - {"type"} == {f.name for f in fields if f.required}, kind


def test_the_schema_script_prints_every_client_message() -> None:
    path = ROOT / "scripts" / "asyncapi_messages.py"
    spec = importlib.util.spec_from_file_location("asyncapi_messages", path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for device in ("pc", "phone"):
        mapping = script.schema(device)["discriminator"]["mapping"]
        assert set(mapping) == ALLOWED[device]
    printed = subprocess.run(
        [sys.executable, str(path), "phone"], capture_output=True, text=True, check=True
    ).stdout
    defs = json.loads(printed)["$defs"]
    assert defs["PhoneEnd"]["properties"]["confirmed"] == {"type": "boolean", "default": False}
    assert defs["Heartbeat"]["properties"]["seq"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_SEQ,
    }


def test_oversized_text_closes_1009() -> None:
    proto = greeted()
    [action] = proto.receive_text(msg("heartbeat", 1, pad="x" * MAX_TEXT_BYTES), 1.0)
    assert isinstance(action, Close) and action.code == CLOSE_TOO_BIG


def test_binary_on_the_pc_closes_1003() -> None:
    proto = greeted("pc")
    [action] = proto.receive_bytes(encode_photo(1, 1, JPEG), 1.0)
    assert isinstance(action, Close) and action.code == CLOSE_UNSUPPORTED_DATA


def test_phone_photo_frames() -> None:
    proto = greeted("phone")
    [action] = proto.receive_bytes(encode_photo(1, 7, JPEG), 1.0)
    assert action == Deliver(Photo(seq=1, request_id=7, jpeg=JPEG))
    [action] = proto.receive_bytes(encode_photo(2, 7, b"GIF89a"), 1.0)
    assert isinstance(action, Reply) and action.message["code"] == "bad_photo"
    [action] = proto.receive_bytes(encode_photo(2, 7, JPEG + b"\0" * MAX_PHOTO_BYTES), 1.0)
    assert isinstance(action, Close) and action.code == CLOSE_TOO_BIG


def test_flood_is_rate_limited_with_1008() -> None:
    proto = greeted(rate=10.0, burst=20.0)
    actions = [a for seq in range(1, 40) for a in proto.receive_text(msg("heartbeat", seq), 5.0)]
    assert isinstance(actions[-1], Close)
    assert actions[-1].code == CLOSE_POLICY and "rate_limited" in actions[-1].reason
    assert proto.receive_text(msg("heartbeat", 99), 6.0) == []


def test_too_many_bad_messages_close() -> None:
    proto = greeted(error_budget=3)
    actions = [proto.receive_text("nope", 1.0)[0] for _ in range(4)]
    assert isinstance(actions[-1], Close) and actions[-1].code == CLOSE_POLICY


def test_token_bucket_refills_with_time() -> None:
    bucket = TokenBucket(rate=2.0, burst=2.0)
    assert bucket.take(0.0) and bucket.take(0.0)
    assert not bucket.take(0.0)
    assert bucket.take(0.5)
    assert not bucket.take(0.5)
    # time going backwards never mints tokens
    assert not bucket.take(0.1)


# ----- property-based fuzz of the handler ----------------------------------------

frames = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.builds(
        lambda kind, seq, extra: json.dumps({"type": kind, "seq": seq, **extra}),
        st.sampled_from(
            [
                "heartbeat",
                "focus",
                "click_outside",
                "camera",
                "submit",
                "phone_start",
                "page_return",
                "phone_end",
                "hello",
                "bogus",
            ]
        ),
        st.one_of(st.integers(-3, 12), st.text(max_size=3), st.none()),
        st.dictionaries(
            st.sampled_from(["state", "cause", "confirmed", "v", "resume"]),
            st.one_of(
                st.sampled_from(["lost", "back", "blur", "live", "asleep"]),
                st.booleans(),
                st.integers(0, 2),
            ),
            max_size=3,
        ),
    ),
    st.builds(
        encode_photo, st.integers(0, 12), st.integers(0, 5), st.sampled_from([JPEG, b"junk"])
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    device=st.sampled_from(["pc", "phone"]),
    script=st.lists(st.tuples(frames, st.floats(0, 0.5)), max_size=60),
    last_acked=st.integers(0, 5),
)
def test_fuzz_handler_never_crashes_and_never_delivers_twice(
    device: str, script: list[tuple[str | bytes, float]], last_acked: int
) -> None:
    proto = ClientProtocol(device, rate=50.0, burst=30.0, error_budget=10)
    proto.receive_text(hello(), 0.0)
    proto.start(last_acked)
    now = 0.0
    delivered: list[int] = []
    closed = False
    for frame, dt in script:
        now += dt
        if isinstance(frame, str):
            actions = proto.receive_text(frame, now)
        else:
            actions = proto.receive_bytes(frame, now)
        if closed:
            assert actions == []
        for action in actions:
            assert isinstance(action, Deliver | Reply | Close)
            if isinstance(action, Deliver):
                assert not isinstance(action.message, Hello)
                delivered.append(action.message.seq)
            if isinstance(action, Reply):
                assert action.message["type"] in ("error", "ack")
                json.dumps(action.message)
            if isinstance(action, Close):
                closed = True
                assert 1000 <= action.code < 5000 and action.reason
    # every message applied exactly once, in order, after what was stored
    assert delivered == list(range(last_acked + 1, last_acked + 1 + len(delivered)))
