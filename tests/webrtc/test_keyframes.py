"""The keyframe tap on aiortc 1.16.0's RTCRtpReceiver, against real peers."""

from __future__ import annotations

import asyncio
import fractions

import aiortc
import av
import numpy as np
import pytest
from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from tests.support.rtc_peers import FakeCamera, connect_pair, solid_picture
from webrtc.errors import RtcError
from webrtc.keyframes import (
    AIORTC_VERSION,
    EncodedKeyframe,
    FixedRemb,
    KeyframeTap,
    MarkerJitterBuffer,
    PliLimiter,
    decode_keyframe,
    install_keyframe_tap,
    is_vp8_keyframe,
    vp8_keyframe_size,
)


def encode_clip(frames: int) -> list[bytes]:
    """A short VP8 clip: one keyframe, then inter-frames."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 640, 480, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 15)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[bytes] = []
    for i in range(frames):
        picture = solid_picture((i * 20 % 255, 100, 50))
        frame = av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(format="yuv420p")
        frame.pts = i
        out += [bytes(p) for p in encoder.encode(frame)]
    out += [bytes(p) for p in encoder.encode(None)]
    return out


def test_the_hook_is_pinned_to_the_installed_aiortc() -> None:
    assert aiortc.__version__ == AIORTC_VERSION


def test_vp8_keyframe_detection_on_a_real_clip() -> None:
    clip = encode_clip(5)
    assert is_vp8_keyframe(clip[0])
    assert vp8_keyframe_size(clip[0]) == (640, 480)
    assert not any(is_vp8_keyframe(p) for p in clip[1:])


def test_vp8_keyframe_detection_refuses_junk() -> None:
    assert not is_vp8_keyframe(b"")
    assert not is_vp8_keyframe(b"\x00\x00\x00\x9d\x01")  # too short
    assert not is_vp8_keyframe(b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")  # no start code
    # bit 0 set: an inter-frame, even with the start code where a keyframe has it
    assert not is_vp8_keyframe(b"\x01\x00\x00\x9d\x01\x2a\x80\x02\xe0\x01")


def test_decode_keyframe_gives_the_picture() -> None:
    clip = encode_clip(1)
    keyframe = EncodedKeyframe(clip[0], 0, 0.0, 640, 480)
    picture = decode_keyframe(keyframe)
    assert picture.shape == (480, 640, 3)
    assert np.abs(picture.astype(int) - [0, 100, 50]).mean() < 8


def test_decode_keyframe_refuses_garbage() -> None:
    with pytest.raises(RtcError) as err:
        decode_keyframe(
            EncodedKeyframe(b"\x00\x00\x00\x9d\x01\x2a" + b"\xff" * 50, 0, 0.0, 640, 480)
        )
    assert err.value.code == "bad_keyframe"
    with pytest.raises(RtcError):
        decode_keyframe(EncodedKeyframe(b"", 0, 0.0, 0, 0))


def test_pli_limiter_allows_one_per_interval() -> None:
    limiter = PliLimiter(min_interval_s=1.0)
    assert limiter.next_allowed_at() is None
    assert limiter.allow(10.0)
    assert not limiter.allow(10.0)
    assert not limiter.allow(10.99)
    assert limiter.next_allowed_at() == 11.0
    assert limiter.allow(11.0)
    assert not limiter.allow(11.5)
    assert limiter.allow(20.0)


def test_pli_limiter_refused_attempts_do_not_push_the_window() -> None:
    limiter = PliLimiter(min_interval_s=2.0)
    assert limiter.allow(0.0)
    for t in (0.5, 1.0, 1.5, 1.9):
        assert not limiter.allow(t)
    assert limiter.allow(2.0)


async def wait_until(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def tapped_pair(camera: FakeCamera):  # type: ignore[no-untyped-def]
    taps: list[KeyframeTap] = []
    loop = asyncio.get_running_loop()

    def install(receiver: RTCRtpReceiver) -> None:
        taps.append(install_keyframe_tap(receiver, loop.time, pli_min_interval_s=0.5))

    sender, receiver = await connect_pair(camera, install)
    assert len(taps) == 1
    return sender, receiver, taps[0]


async def test_tap_drops_frames_undecoded_and_decodes_one_keyframe_on_request() -> None:
    camera = FakeCamera(bgr=(40, 160, 220))
    sender, receiver, tap = await tapped_pair(camera)
    try:
        await wait_until(lambda: tap.frames_seen >= 10)
        assert tap.last_frame_at is not None
        track = receiver.getTransceivers()[0].receiver.track
        # nothing reached the decoder, so nothing was decoded or queued
        assert track._queue.qsize() == 0

        keyframe = await tap.next_keyframe(timeout_s=5.0)
        assert tap.plis_sent >= 1
        assert (keyframe.width, keyframe.height) == (640, 480)
        picture = decode_keyframe(keyframe)
        assert np.abs(picture.astype(int) - [40, 160, 220]).mean() < 8
        assert track._queue.qsize() == 0
    finally:
        await sender.close()
        await receiver.close()


async def test_concurrent_requests_share_one_keyframe_and_pli_is_rate_limited() -> None:
    camera = FakeCamera()
    sender, receiver, tap = await tapped_pair(camera)
    try:
        await wait_until(lambda: tap.frames_seen >= 3)
        first, second = await asyncio.gather(
            tap.next_keyframe(timeout_s=5.0), tap.next_keyframe(timeout_s=5.0)
        )
        assert first is second
        # limiter interval is 0.5 s: two requests at once send a single PLI
        plis = tap.plis_sent
        assert plis == 1
        assert not await tap.request_keyframe()
        assert tap.plis_sent == plis
    finally:
        await sender.close()
        await receiver.close()


async def test_keyframe_wait_times_out_when_no_video_comes() -> None:
    camera = FakeCamera()
    sender, receiver, tap = await tapped_pair(camera)
    try:
        await wait_until(lambda: tap.frames_seen >= 3)
        for t in sender.getSenders():
            t._enabled = False  # the sender stops putting frames on the wire
        with pytest.raises(RtcError) as err:
            await tap.next_keyframe(timeout_s=0.8)
        assert err.value.code == "keyframe_timeout"
    finally:
        await sender.close()
        await receiver.close()


async def test_tap_reports_the_end_of_the_track() -> None:
    camera = FakeCamera()
    sender, receiver, tap = await tapped_pair(camera)
    ended: list[bool] = []
    tap.on_ended = lambda: ended.append(True)
    await wait_until(lambda: tap.frames_seen >= 3)
    await sender.close()  # sends RTCP BYE
    await wait_until(lambda: tap.ended)
    assert ended == [True]
    with pytest.raises(RtcError) as err:
        await tap.next_keyframe(timeout_s=1.0)
    assert err.value.code == "track_ended"
    await receiver.close()


async def test_installing_after_the_receiver_started_is_refused() -> None:
    camera = FakeCamera()
    loop = asyncio.get_running_loop()
    sender, receiver = await connect_pair(camera, lambda r: None)
    try:
        video = receiver.getTransceivers()[0].receiver
        await wait_until(lambda: video._RTCRtpReceiver__started)
        with pytest.raises(RuntimeError):
            install_keyframe_tap(video, loop.time)
    finally:
        await sender.close()
        await receiver.close()


def rtp(seq: int, timestamp: int, marker: bool, data: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=timestamp, marker=marker)
    packet._data = data  # type: ignore[attr-defined]
    return packet


def test_marker_jitter_buffer_completes_a_frame_at_its_marker() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    assert buffer.add(rtp(10, 1000, False, b"ab")) == (False, None)
    pli, frame = buffer.add(rtp(11, 1000, True, b"cd"))
    assert not pli and frame is not None
    assert (frame.data, frame.timestamp) == (b"abcd", 1000)
    # the next frame is independent of the first
    _, frame = buffer.add(rtp(12, 4000, True, b"ef"))
    assert frame is not None and frame.data == b"ef"


def test_marker_jitter_buffer_waits_for_missing_packets() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    buffer.add(rtp(20, 1000, False, b"a"))
    # 21 lost: the marked packet 22 does not complete the frame
    assert buffer.add(rtp(22, 1000, True, b"c")) == (False, None)
    _, frame = buffer.add(rtp(21, 1000, False, b"b"))  # retransmitted (NACK)
    assert frame is not None and frame.data == b"abc"


def test_marker_jitter_buffer_falls_back_to_aiortcs_rule_without_markers() -> None:
    plain = JitterBuffer(capacity=128, is_video=True)
    marked = MarkerJitterBuffer(capacity=128, is_video=True)
    packets = [rtp(30 + i, 1000 * (1 + i // 2), False, bytes([i])) for i in range(6)]
    outputs = [
        ([plain.add(p)[1] for p in packets]),
        ([marked.add(p)[1] for p in packets]),
    ]
    for a, b in zip(*outputs, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert (a.data, a.timestamp) == (b.data, b.timestamp)


def test_fixed_remb_once_per_interval_with_the_cap() -> None:
    remb = FixedRemb(300_000, interval_ms=1000)
    assert remb.add(arrival_time_ms=0, abs_send_time=0, payload_size=1200, ssrc=7) == (300_000, [7])
    assert remb.add(arrival_time_ms=999, abs_send_time=0, payload_size=1200, ssrc=7) is None
    assert remb.add(arrival_time_ms=1000, abs_send_time=0, payload_size=1200, ssrc=7) == (
        300_000,
        [7],
    )
    remb.set_max(900_000)  # goes out with the very next packet
    assert remb.add(arrival_time_ms=1001, abs_send_time=0, payload_size=1200, ssrc=7) == (
        900_000,
        [7],
    )


async def test_the_sender_follows_the_fixed_remb_cap() -> None:
    camera = FakeCamera()
    taps: list[KeyframeTap] = []
    loop = asyncio.get_running_loop()

    def install(receiver: RTCRtpReceiver) -> None:
        taps.append(install_keyframe_tap(receiver, loop.time, remb_bps=300_000))

    sender, receiver = await connect_pair(camera, install)
    try:
        rtp_sender = sender.getSenders()[0]

        def encoder_bitrate() -> int | None:
            encoder = rtp_sender._RTCRtpSender__encoder
            return None if encoder is None else encoder.target_bitrate

        await wait_until(lambda: encoder_bitrate() == 300_000)
        assert taps[0].remb is not None
        taps[0].remb.set_max(800_000)
        await wait_until(lambda: encoder_bitrate() == 800_000)
    finally:
        await sender.close()
        await receiver.close()
