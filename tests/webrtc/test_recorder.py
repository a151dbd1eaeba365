"""The recording (rule K1): received VP8 frames copied, undecoded, into WebM
segment files that start at a keyframe, play in a decoder, and rotate on
time. Real aiortc peers on loopback; the files are read back with PyAV."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import av

from tests.support.rtc_peers import FakeCamera, connect_pair
from tests.support.waits import eventually
from webrtc.keyframes import KeyframeTap, install_keyframe_tap
from webrtc.recorder import Recorder, SegmentFile, SegmentWriter


def read_back(path: Path) -> tuple[list[bool], int, float]:
    """(keyframe flags of the packets, frames decoded, duration in seconds)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keys = [p.is_keyframe for p in container.demux(stream) if p.size]
    with av.open(str(path)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
        duration = (container.duration or 0) / av.time_base
    return keys, decoded, duration


async def test_frames_are_copied_into_rotating_segments_that_play(tmp_path: Path) -> None:
    stored: list[SegmentFile] = []

    async def keep(segment: SegmentFile) -> None:
        stored.append(segment)

    loop = asyncio.get_running_loop()
    recorder = Recorder(tmp_path, segment_s=1.5, clock=loop.time, on_segment=keep)
    recorder.start()
    taps: list[KeyframeTap] = []

    def tap_it(receiver: object) -> None:
        taps.append(install_keyframe_tap(receiver, loop.time, pli_min_interval_s=0.5))  # type: ignore[arg-type]

    sender, receiver = await connect_pair(FakeCamera(), tap_it)
    try:
        (tap,) = taps
        recorder.attach(7, "camera", tap)
        # a first segment opens at the first keyframe (asked for by a PLI) and
        # the next keyframe after 1.5 s rotates it
        await eventually(lambda: _async(recorder.segments_written >= 2), within=30)
        assert tap.keyframes_seen >= 2
    finally:
        await sender.close()
        await receiver.close()
    await recorder.stop()
    assert len(stored) >= 2 and recorder.failures == 0
    for segment in stored:
        assert segment.name.startswith("recordings/7/camera-") and segment.name.endswith(".webm")
        assert segment.path == tmp_path / segment.name
        keys, decoded, duration = read_back(segment.path)
        assert keys[0] is True  # a segment starts at a keyframe
        assert decoded == segment.frames == len(keys)  # every frame decodes
        assert (segment.width, segment.height) == (640, 480)
        assert abs(duration - segment.duration_s) < 0.2
    # one after the other, no overlap
    starts = sorted(s.started_at for s in stored)
    assert starts == [s.started_at for s in stored]


def test_rtp_timestamps_wrap_and_never_run_backwards(tmp_path: Path) -> None:
    keyframe = _keyframe()
    writer = SegmentWriter(tmp_path / "recordings" / "1" / "camera-0.webm", 640, 480)
    start = 0xFFFFFFFF - 3000  # wraps after the first frame
    writer.write(keyframe, start, True)
    writer.write(keyframe, (start + 6000) & 0xFFFFFFFF, True)
    writer.write(keyframe, (start + 3000) & 0xFFFFFFFF, True)  # late: keeps the time
    assert writer.last_ms == 67  # 6000 ticks = 66.7 ms, then strictly rising
    writer.close()
    keys, decoded, _ = read_back(writer.path)
    assert keys == [True, True, True] and decoded == 3


def _keyframe() -> bytes:
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 640, 480, "yuv420p"  # type: ignore[attr-defined]
    frame = av.VideoFrame(640, 480, "yuv420p")
    packets = encoder.encode(frame) + encoder.encode(None)  # type: ignore[attr-defined]
    return bytes(packets[0])


async def _async(value: bool) -> bool:
    return value


class NoReceiver:
    """What a tap asks for PLIs when no network is behind it."""

    def getSynchronizationSources(self) -> list[object]:  # aiortc's name
        return []


async def test_a_writer_that_falls_behind_costs_a_gap_not_the_loop(tmp_path: Path) -> None:
    # nothing unbounded: a full queue drops frames, ends the segment, and the
    # next keyframe opens a new one; the loop never waits for the disk
    async def keep(segment: SegmentFile) -> None:
        raise AssertionError("no segment is finished in this test")

    now = [1000.0]
    recorder = Recorder(
        tmp_path, segment_s=60, clock=lambda: now[0], on_segment=keep, queue_limit=3
    )
    recorder._thread = threading.Thread(target=lambda: None)  # a writer that never drains
    tap = KeyframeTap(NoReceiver(), lambda: now[0], 1.0)  # type: ignore[arg-type]
    track = recorder.attach(3, "screen", tap)
    keyframe, inter = _keyframe(), b"\x01" * 20
    tap._on_frame("video/vp8", inter, 0)  # before any keyframe: nothing to write
    assert track.dropped == 1 and not track.open
    tap._on_frame("video/vp8", keyframe, 3000)  # opens a segment: "open" + the frame
    tap._on_frame("video/vp8", inter, 6000)  # fills the queue (3)
    assert track.open and recorder._queue.qsize() == 3
    tap._on_frame("video/vp8", inter, 9000)  # full: dropped, the segment ends here
    assert not track.open and track.dropped == 2
    while not recorder._queue.empty():
        recorder._queue.get_nowait()  # the disk catches up
    tap._on_frame("video/vp8", inter, 12000)  # an inter-frame cannot start a segment
    assert not track.open and recorder._queue.empty()
    now[0] += 1
    tap._on_frame("video/vp8", keyframe, 15000)  # the next keyframe opens a new one
    kinds = [recorder._queue.get_nowait()[1][0] for _ in range(recorder._queue.qsize())]
    assert track.open and kinds == ["open", "frame"]
    await asyncio.gather(*recorder._tasks, return_exceptions=True)  # the PLIs asked meanwhile
