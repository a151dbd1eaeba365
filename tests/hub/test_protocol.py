"""The sans-I/O websocket protocol: parsing, order, seq/ack, limits, fuzzing."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED_DATA
from hub.protocol import (
    MAX_PHOTO_BYTES,
    MAX_TEXT_BYTES,
    ClientProtocol,
    Close,
    Deliver,
    Focus,
    Heartbeat,
    Hello,
    Photo,
    Reply,
    TokenBucket,
    encode_photo,
)

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
