"""What the recording costs (rule K1): CPU and bytes per recorded stream-hour.

The production path from the keyframe tap on: every encoded frame enters
``KeyframeTap._on_frame`` (as aiortc's receiver hands it over), the
recorder's loop-side decision queues it, the writer thread muxes it into
WebM segments (PyAV, no decoding), closes, fsyncs and stores them through
the local evidence store. What stands in for the network: a VP8 stream
encoded once by libvpx (a 640x480 camera at 15 fps, a 1280x720 screen at
1 fps) replayed with rising RTP timestamps, a keyframe every segment (what
the PLI brings), and a simulated clock, so hours of stream run in minutes.

One change against a control: the same replay into the same taps with the
recording off (the tap's frame hook unset). The difference is the
recording's cost. Prints one JSON object last.

    python -m bench.recording_cost [--streams 8] [--seconds 300]
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from webrtc.keyframes import KeyframeTap
from webrtc.object_store import LocalObjectStore
from webrtc.recorder import Recorder, SegmentFile

SEGMENT_S = 60.0
KINDS = {"camera": (640, 480, 15, 300_000), "screen": (1280, 720, 1, 200_000)}


class NoNetwork:
    """The receiver a tap asks for PLIs: here the replay brings the keyframes."""

    def getSynchronizationSources(self) -> list[Any]:  # aiortc's name
        return []


def encoded_stream(width: int, height: int, fps: int, bps: int, seconds: int) -> list[bytes]:
    """``seconds`` of VP8 frames of a moving picture, first one a keyframe."""
    encoder: Any = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = fractions.Fraction(1, fps)
    encoder.bit_rate = bps
    encoder.options = {"g": str(10_000), "deadline": "realtime", "cpu-used": "8"}
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    frames: list[bytes] = []
    for i in range(seconds * fps):
        picture = np.roll(base, i * 3, axis=1)
        frame = av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(format="yuv420p")
        frame.pts = i
        frames.extend(bytes(p) for p in encoder.encode(frame))
    frames.extend(bytes(p) for p in encoder.encode(None))
    return frames


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def replay(streams: int, seconds: float, record: bool, root: Path) -> dict[str, Any]:
    clock = [time.time()]
    objects = LocalObjectStore(root)
    stored: list[SegmentFile] = []

    async def store(segment: SegmentFile) -> None:
        await asyncio.to_thread(objects.put_file, segment.name, segment.path)
        stored.append(segment)

    recorder = Recorder(root, SEGMENT_S, lambda: clock[0], store) if record else None
    if recorder is not None:
        recorder.start()
    sources = {kind: encoded_stream(w, h, fps, bps, 10) for kind, (w, h, fps, bps) in KINDS.items()}
    keyframes = {kind: frames[0] for kind, frames in sources.items()}
    taps: list[tuple[str, KeyframeTap]] = []
    for n in range(streams):
        for kind in KINDS:
            tap = KeyframeTap(NoNetwork(), lambda: clock[0], 1.0)  # type: ignore[arg-type]
            if recorder is not None:
                recorder.attach(n + 1, kind, tap)
            taps.append((kind, tap))
    start_cpu, start_wall = cpu_now(), time.perf_counter()
    step = 1 / 15  # the camera's frame interval drives the simulated clock
    ticks = int(seconds / step)
    for i in range(ticks):
        clock[0] += step
        for kind, tap in taps:
            fps = KINDS[kind][2]
            per_tick = fps * step
            if int((i + 1) * per_tick) == int(i * per_tick):
                continue  # this kind sends no frame at this tick
            index = int(i * per_tick)
            frames = sources[kind]
            # a keyframe at each segment's start (what the recorder's PLI asks for)
            due = index % int(SEGMENT_S * fps) == 0
            data = keyframes[kind] if due else frames[1 + index % (len(frames) - 1)]
            tap._on_frame("video/vp8", data, (index * 90_000 // fps) & 0xFFFFFFFF)
        if recorder is not None and recorder._queue.qsize() > 1000:
            await asyncio.sleep(0.005)  # the disk's pace, not the hub's: let the writer drain
        elif i % 50 == 0:
            await asyncio.sleep(0)
    if recorder is not None:
        await recorder.stop()
    cpu = cpu_now() - start_cpu
    wall = time.perf_counter() - start_wall
    size = sum(s.size for s in stored)
    by_track = {kind: sum(s.size for s in stored if s.track == kind) for kind in KINDS}
    dropped = sum(t.dropped for t in (recorder.tracks.values() if recorder else []))
    return {
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "segments": len(stored),
        "bytes": size,
        "bytes_by_track": by_track,
        "dropped_frames": dropped,
        "failures": 0 if recorder is None else recorder.failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=8, help="attempts (camera + screen each)")
    parser.add_argument("--seconds", type=float, default=300.0, help="stream time each")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="recording-bench-"))
    try:
        load_before = os.getloadavg()[0]
        control = asyncio.run(replay(args.streams, args.seconds, False, root / "control"))
        recorded = asyncio.run(replay(args.streams, args.seconds, True, root / "recorded"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    stream_hours = 2 * args.streams * args.seconds / 3600  # camera and screen
    track_hours = args.streams * args.seconds / 3600
    extra_cpu = max(0.0, recorded["cpu_s"] - control["cpu_s"])
    print(
        json.dumps(
            {
                "benchmark": "recording_cost",
                "streams": args.streams,
                "stream_seconds_each": args.seconds,
                "stream_hours": round(stream_hours, 3),
                "control": control,
                "recorded": recorded,
                "cpu_s_per_stream_hour": round(extra_cpu / stream_hours, 3),
                "cpu_percent_of_a_core_per_stream": round(100 * extra_cpu / stream_hours / 3600, 4),
                "mb_per_stream_hour": round(recorded["bytes"] / stream_hours / 1e6, 1),
                "mb_per_hour_by_track": {
                    kind: round(b / track_hours / 1e6, 1)
                    for kind, b in recorded["bytes_by_track"].items()
                },
                "load_average_before": round(load_before, 2),
                "load_average_after": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
