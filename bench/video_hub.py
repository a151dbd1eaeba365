"""The receiving side of bench/video_load.py's own-hub runs, in a process of
its own (``video_load.py --role hub``): one RTCPeerConnection per sender,
either with ``webrtc.keyframes`` taps (``tap``) or aiortc's decode-everything
path (``decode``), a snapshot per stream every few seconds, and a
line-per-JSON control server whose port it prints first."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from webrtc.capture import CapturedJpeg, MediaWorkers, capture_pc_jpeg
from webrtc.ingest import LOW_REMB_BPS
from webrtc.keyframes import KeyframeTap, install_keyframe_tap
from webrtc.loopback import enable_loopback_candidates
from webrtc.storage import FileSnapshotStore


class Hub:
    """The receiving side: one RTCPeerConnection per sender."""

    def __init__(self, mode: str, snapshot_every: float, store_dir: Path) -> None:
        self.mode = mode
        self.snapshot_every = snapshot_every
        self.store = FileSnapshotStore(store_dir)
        self.workers = MediaWorkers(workers=2, max_pending=256)
        self.pcs: list[RTCPeerConnection] = []
        self.taps: list[KeyframeTap] = []
        self.tracks: list[MediaStreamTrack] = []
        self.latest: list[av.VideoFrame | None] = []
        self.frames_decoded = 0
        self.seen_at_reset = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.snapshots_on = asyncio.Event()
        self.ids: list[int] = []  # the sender's id of each peer, by index

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def offer(self, sdp: str, peer_id: int) -> str:
        pc = RTCPeerConnection()
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        # the peer's index is taken with no await before its append: offers
        # may be handled concurrently (the connect storm)
        index = -1
        for transceiver in pc.getTransceivers():
            receiver = transceiver.receiver
            if self.mode == "tap":
                tap = install_keyframe_tap(
                    receiver, asyncio.get_running_loop().time, remb_bps=LOW_REMB_BPS
                )
                index = len(self.taps)
                self.taps.append(tap)
            else:
                index = len(self.latest)
                self.tracks.append(receiver.track)
                self.latest.append(None)
                self.spawn(self.consume(index, receiver.track))
            self.ids.append(peer_id)
        self.pcs.append(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        self.spawn(self.snapshot_loop(index))
        return pc.localDescription.sdp

    async def consume(self, index: int, track: MediaStreamTrack) -> None:
        # aiortc's default path: every frame is decoded and must be read.
        try:
            while True:
                self.latest[index] = await track.recv()  # type: ignore[assignment]
                self.frames_decoded += 1
        except MediaStreamError:
            return

    def live_list(self) -> list[int]:
        """The peers that have received a frame (by offer order)."""
        if self.mode == "tap":
            return [self.ids[i] for i, t in enumerate(self.taps) if t.frames_seen > 0]
        return [self.ids[i] for i, f in enumerate(self.latest) if f is not None]

    def live(self) -> int:
        if self.mode == "tap":
            return sum(1 for t in self.taps if t.frames_seen > 0)
        return sum(1 for f in self.latest if f is not None)

    async def snapshot_loop(self, index: int) -> None:
        rng = random.Random(index)
        await self.snapshots_on.wait()
        await asyncio.sleep(rng.uniform(0, self.snapshot_every))
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                if self.mode == "tap":
                    shot = await capture_pc_jpeg(self.taps[index], self.workers)
                else:
                    shot = await self.decoded_snapshot(index)
                await self.workers.run(self.store.put, shot.jpeg)
                self.latencies_ms.append((loop.time() - started) * 1000)
            except Exception:
                self.errors += 1
            await asyncio.sleep(max(0.0, started + self.snapshot_every - loop.time()))

    async def decoded_snapshot(self, index: int) -> CapturedJpeg:
        frame = self.latest[index]
        assert frame is not None
        return await self.workers.run(frame_to_jpeg, frame)

    def stats(self) -> dict[str, Any]:
        return {
            "snapshots": len(self.latencies_ms),
            "errors": self.errors,
            "latencies_ms": self.latencies_ms,
            "frames_decoded": self.frames_decoded,
            "frames_seen": sum(t.frames_seen for t in self.taps) - self.seen_at_reset,
        }

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(pc.close() for pc in self.pcs), return_exceptions=True)
        await self.workers.stop()


def frame_to_jpeg(frame: av.VideoFrame) -> CapturedJpeg:
    image = frame.to_image()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return CapturedJpeg(out.getvalue(), image.width, image.height)


async def serve_hub(mode: str, snapshot_every: float) -> None:
    enable_loopback_candidates()
    done = asyncio.Event()
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        hub = Hub(mode, snapshot_every, Path(tmp))
        hub.workers.start()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                msg = json.loads(line)
                reply: dict[str, Any] = {}
                if msg["op"] == "offer":
                    reply = {"sdp": await hub.offer(msg["sdp"], msg["id"])}
                elif msg["op"] == "status":
                    reply = {"live": hub.live()}
                elif msg["op"] == "live_list":
                    reply = {"live": hub.live_list()}
                elif msg["op"] == "snapshots_on":
                    hub.snapshots_on.set()
                elif msg["op"] == "reset":
                    hub.latencies_ms.clear()
                    hub.errors = 0
                    hub.frames_decoded = 0
                    hub.seen_at_reset = sum(t.frames_seen for t in hub.taps)
                elif msg["op"] == "stats":
                    reply = hub.stats()
                elif msg["op"] == "quit":
                    done.set()
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await done.wait()
        server.close()
        await hub.close()


def hub_main(args: argparse.Namespace) -> None:
    import uvloop

    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    uvloop.run(serve_hub(args.mode, args.snapshot_every))
    if profiler is not None:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(25)
