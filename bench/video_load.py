"""Video ingest load: N aiortc senders → one hub process, with and without the keyframe tap.

    .venv/bin/python bench/video_load.py --streams 50 --duration 60

Two runs, each with a fresh hub process (uvloop) receiving N peers:

- ours: the hub installs ``webrtc.keyframes`` taps (inter-frames dropped
  undecoded) and the senders send at the page's low rate (``--fps``, 3 by
  default: what ``static/js/camera.js`` asks for while nobody watches);
- baseline: aiortc's default path — every frame decoded, a consumer reading
  them — with senders at 15 fps.

In both, every stream gets a snapshot every ``--snapshot-every`` seconds
(randomly phased): decision → JPEG written to a content-addressed store.

Senders replay pre-encoded VP8 (a synthetic 640x480 clip encoded once; the
clip restarts at its keyframe on a PLI or at its end), so they cost little
CPU on the shared 2-core machine. The hub's CPU and RSS are read from /proc.

``ratio`` (tap at 3 fps vs decode-everything at 15 fps) mixes two changes;
the controls change one at a time: ``ratio_same_fps`` (decode-everything at
the tap's 3 fps) and ``ratio_watched`` (the tap at 15 fps, what a watched
stream sends). ``p95_first_frame_ms``: offer sent → the hub's first frame.
``connect_storm``: ``--storm-offers`` offers in ``--storm-seconds`` on a
fresh hub (offer → answer, offer → first frame: ICE, DTLS, a keyframe).
These runs use this file's own receiving class (``production_path: false``);
``--production`` runs the real ``webrtc.ingest.PeerRegistry`` in ``proctor
serve --role web`` instead (``production_path: true``).
The last line printed is one JSON object (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import fractions
import io
import json
import math
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from bench.measure import cpu_seconds, rss_kib
from webrtc.capture import CapturedJpeg, MediaWorkers, capture_pc_jpeg
from webrtc.ingest import LOW_REMB_BPS
from webrtc.keyframes import KeyframeTap, install_keyframe_tap
from webrtc.loopback import enable_loopback_candidates
from webrtc.storage import FileSnapshotStore

WIDTH, HEIGHT = 640, 480
CLIP_SECONDS = 20
BASELINE_FPS = 15


# ---------------------------------------------------------------- senders ---
def synthetic_picture(t: float) -> np.ndarray:
    """A moving scene: gradient, a sliding block and a bobbing 'head'."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    picture = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    picture[..., 0] = (x // 3 + int(t * 20)) % 256
    picture[..., 1] = (y // 2) % 256
    picture[..., 2] = 120
    bx = int((t * 80) % (WIDTH - 80))
    picture[200:280, bx : bx + 80] = (30, 200, 30)
    cy = 240 + int(20 * math.sin(t * 2))
    inside = ((x - 320) / 70.0) ** 2 + ((y - cy) / 95.0) ** 2 <= 1
    picture[inside] = (150, 180, 220)
    # a webcam's sensor noise: without it VP8 has almost nothing to code and
    # decoding costs far less than a real camera's stream
    noise = _NOISE.integers(-6, 7, size=picture.shape, dtype=np.int16)
    return np.clip(picture.astype(np.int16) + noise, 0, 255).astype(np.uint8)


_NOISE = np.random.default_rng(1)


def encode_clip(fps: int, seconds: int) -> list[bytes]:
    """Encode the synthetic scene once: a keyframe then inter-frames only."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.time_base = fractions.Fraction(1, fps)
    encoder.bit_rate = 350_000  # what Chromium's fake camera sends (FIELD-NOTES)
    encoder.gop_size = fps * seconds * 10
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[bytes] = []
    for i in range(fps * seconds):
        frame = av.VideoFrame.from_ndarray(synthetic_picture(i / fps), format="bgr24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = i
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    return packets


class ReplayTrack(MediaStreamTrack):
    """Sends a pre-encoded clip as ``av.Packet``s (aiortc passes them through).

    On a PLI aiortc's sender sets its force-keyframe flag, which only its
    encoder path reads; we read it here and restart the clip at its keyframe.
    """

    kind = "video"

    def __init__(self, clip: list[bytes], fps: int) -> None:
        super().__init__()
        self._clip = clip
        self._fps = fps
        self._index = 0
        self._sent = 0
        self._start: float | None = None
        self.sender: RTCRtpSender | None = None
        self.keyframes_sent = 0

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        wait = self._start + self._sent / self._fps - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        internals: Any = self.sender
        if internals is not None and internals._RTCRtpSender__force_keyframe:
            internals._RTCRtpSender__force_keyframe = False
            self._index = 0
        if self._index >= len(self._clip):
            self._index = 0
        if self._index == 0:
            self.keyframes_sent += 1
        packet = av.Packet(self._clip[self._index])
        packet.pts = self._sent
        packet.time_base = fractions.Fraction(1, self._fps)
        self._index += 1
        self._sent += 1
        return packet


async def run_senders(
    streams: int, fps: int, duration: float, hub_port: int, hub_pid: int, window_start: float
) -> dict[str, Any]:
    clip = await asyncio.to_thread(encode_clip, fps, CLIP_SECONDS)
    reader, writer = await asyncio.open_connection("127.0.0.1", hub_port)

    async def call(message: dict[str, Any]) -> dict[str, Any]:
        writer.write(json.dumps(message).encode() + b"\n")
        await writer.drain()
        reply: dict[str, Any] = json.loads(await reader.readline())
        return reply

    rss_idle = rss_mib(hub_pid)
    pcs: list[RTCPeerConnection] = []
    tracks: list[ReplayTrack] = []
    offered: list[float] = []  # when each offer was sent
    first_frame: dict[int, float] = {}
    for i in range(streams):
        pc = RTCPeerConnection()
        track = ReplayTrack(clip, fps)
        track.sender = pc.addTrack(track)
        await pc.setLocalDescription(await pc.createOffer())
        offered.append(time.monotonic())
        reply = await call({"op": "offer", "id": i, "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        pcs.append(pc)
        tracks.append(track)
        for n in (await call({"op": "live_list"}))["live"]:
            first_frame.setdefault(n, time.monotonic())
    # wait until every hub peer has seen video (offer → first frame, 20 ms polls)
    for _ in range(1500):
        for n in (await call({"op": "live_list"}))["live"]:
            first_frame.setdefault(n, time.monotonic())
        if len(first_frame) >= streams:
            break
        await asyncio.sleep(0.02)
    first_frame_ms = sorted((first_frame[n] - offered[n]) * 1000 for n in first_frame)
    await call({"op": "snapshots_on"})
    await asyncio.sleep(window_start)

    rss_start = rss_mib(hub_pid)
    cpu0, wall0 = cpu_seconds(hub_pid), time.monotonic()
    await call({"op": "reset"})
    rss_samples: list[tuple[float, float]] = []
    while time.monotonic() - wall0 < duration:
        await asyncio.sleep(min(5.0, duration / 10))
        rss_samples.append((time.monotonic() - wall0, rss_mib(hub_pid)))
    cpu1, wall1 = cpu_seconds(hub_pid), time.monotonic()
    stats = await call({"op": "stats"})
    await call({"op": "quit"})
    writer.close()
    for pc in pcs:
        await pc.close()

    minutes = [t / 60 for t, _ in rss_samples]
    rss = [r for _, r in rss_samples]
    slope = statistics.linear_regression(minutes, rss).slope if len(rss) >= 2 else 0.0
    latencies = sorted(stats["latencies_ms"])
    return {
        "streams": streams,
        "fps": fps,
        "cpu_pct_per_stream": 100 * (cpu1 - cpu0) / (wall1 - wall0) / streams,
        "snapshots": stats["snapshots"],
        "snapshot_errors": stats["errors"],
        "p50_snapshot_ms": percentile(latencies, 50),
        "p95_snapshot_ms": percentile(latencies, 95),
        "rss_mib_per_peer": (rss_start - rss_idle) / streams,
        "rss_growth_mib_per_min": slope,
        "hub_rss_mib": rss[-1] if rss else rss_start,
        "keyframes_sent": sum(t.keyframes_sent for t in tracks),
        "p95_first_frame_ms": percentile(first_frame_ms, 95),
        "no_first_frame": streams - len(first_frame),
        # frames per second per stream that reached the hub's decoder output
        # (baseline) or the tap (ours): below the sent rate means it fell behind
        "received_fps_per_stream": (stats["frames_decoded"] + stats["frames_seen"])
        / (wall1 - wall0)
        / streams,
    }


async def connect_storm(offers: int, over_s: float, fps: int, hub_port: int) -> dict[str, Any]:
    """``offers`` offers spread over ``over_s`` seconds, each on a control
    connection of its own (handled concurrently by the hub): offer → answer
    (the hub's setRemoteDescription and createAnswer) and offer → first frame
    (ICE, the DTLS handshake, the first keyframe)."""
    clip = await asyncio.to_thread(encode_clip, fps, CLIP_SECONDS)
    peers = []
    for _ in range(offers):  # the offers are made first: the senders' ICE gathering is not timed
        pc = RTCPeerConnection()
        track = ReplayTrack(clip, fps)
        track.sender = pc.addTrack(track)
        await pc.setLocalDescription(await pc.createOffer())
        peers.append(pc)
    answered: list[float] = []
    offered: dict[int, float] = {}
    first_frame: dict[int, float] = {}

    async def one(i: int, pc: RTCPeerConnection) -> None:
        await asyncio.sleep(i * over_s / offers)
        reader, writer = await asyncio.open_connection("127.0.0.1", hub_port)
        offered[i] = time.monotonic()
        writer.write(json.dumps({"op": "offer", "id": i, "sdp": pc.localDescription.sdp}).encode())
        writer.write(b"\n")
        await writer.drain()
        reply = json.loads(await reader.readline())
        answered.append((time.monotonic() - offered[i]) * 1000)
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", hub_port)

    async def call(message: dict[str, Any]) -> dict[str, Any]:
        writer.write(json.dumps(message).encode() + b"\n")
        await writer.drain()
        got: dict[str, Any] = json.loads(await reader.readline())
        return got

    async def watch() -> None:
        while len(first_frame) < offers:
            for n in (await call({"op": "live_list"}))["live"]:
                first_frame.setdefault(n, time.monotonic())
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(one(i, pc) for i, pc in enumerate(peers)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watcher, 60)
    await call({"op": "quit"})
    writer.close()
    for pc in peers:
        await pc.close()
    frames = sorted((first_frame[n] - offered[n]) * 1000 for n in first_frame)
    answered.sort()
    return {
        "offers": offers,
        "over_s": over_s,
        "p50_offer_answer_ms": percentile(answered, 50),
        "p99_offer_answer_ms": percentile(answered, 99),
        "p50_first_frame_ms": percentile(frames, 50),
        "p99_first_frame_ms": percentile(frames, 99),
        "no_first_frame": offers - len(first_frame),
    }


async def production_run(args: argparse.Namespace) -> dict[str, Any]:
    """The production path: N senders → ``proctor serve --role web`` (the real
    ``webrtc.ingest.PeerRegistry`` behind ``POST /api/rtc/offer``: keyframe
    taps, the hub's camera measurement through Redis, its own snapshot
    decisions, JPEGs in the store, rows in PostgreSQL, face checks), with the
    persistence worker as ``--role worker`` beside it. First frame: offer →
    the shared state says the PC camera is live (measured by the ingest,
    polled every 50 ms). The registry decides its snapshots itself, so their
    latency is not timed here: ``snapshots`` counts the rows written."""
    import os
    import shutil
    import subprocess

    import asyncpg
    import httpx
    from redis.asyncio import Redis

    from bench.hub_load import make_attempts, wait_port
    from bench.measure import free_port, loadavg
    from hub.devices import Camera
    from hub.keys import Keys
    from hub.state_schema import read_views
    from hub.tokens import sign_device_token
    from proctor.embedded import start_services

    root = Path(__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="video_prod_"))
    services = start_services(
        os.environ.get("PROCTOR_DATABASE_URL"), os.environ.get("PROCTOR_REDIS_URL"), tmp
    )
    prefix = f"video{os.getpid()}"
    secret = "bench-secret-key-0123456789"
    env = {
        **os.environ,
        "PROCTOR_DATABASE_URL": services.database_url,
        "PROCTOR_REDIS_URL": services.redis_url,
        "PROCTOR_DATA_DIR": str(tmp / "data"),
        "PROCTOR_REDIS_PREFIX": prefix,
        "PROCTOR_SECRET_KEY": secret,
    }
    procs: list[subprocess.Popen[bytes]] = []
    load_before = loadavg()
    redis = Redis.from_url(services.redis_url)
    peers: list[RTCPeerConnection] = []
    try:
        attempt_ids = await make_attempts(services.database_url, secret.encode(), args.streams)
        ports = {}
        for role in ("worker", "web"):
            ports[role] = free_port()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "proctor.cli",
                    "serve",
                    "--role",
                    role,
                    "--port",
                    str(ports[role]),
                    "--log-level",
                    "warning",
                ],
                env=env,
                cwd=root,
                stdout=subprocess.DEVNULL,
            )
            procs.append(proc)
            await wait_port(ports[role], proc)
        web = procs[-1]
        enable_loopback_candidates()
        clip = await asyncio.to_thread(encode_clip, args.fps, CLIP_SECONDS)
        keys = Keys(prefix)
        rss_idle = rss_mib(web.pid)
        offered: dict[int, float] = {}
        tracks: list[ReplayTrack] = []
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{ports['web']}", timeout=60
        ) as http:
            for attempt_id in attempt_ids:
                pc = RTCPeerConnection()
                track = ReplayTrack(clip, args.fps)
                track.sender = pc.addTrack(track)
                await pc.setLocalDescription(await pc.createOffer())
                token = sign_device_token(secret.encode(), attempt_id, "pc", time.time(), 7200)
                offered[attempt_id] = time.monotonic()
                r = await http.post(
                    "/api/rtc/offer",
                    json={"token": token, "sdp": pc.localDescription.sdp, "type": "offer"},
                )
                r.raise_for_status()
                await pc.setRemoteDescription(RTCSessionDescription(**r.json()))
                peers.append(pc)
                tracks.append(track)
        first_frame: dict[int, float] = {}
        for _ in range(1200):
            views = await read_views(redis, keys, [a for a in attempt_ids if a not in first_frame])
            now = time.monotonic()
            for a, view in views.items():
                if view.session is not None and view.session.devices["pc"].camera is Camera.LIVE:
                    first_frame[a] = now
            if len(first_frame) >= len(attempt_ids):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(args.warmup)
        conn = await asyncpg.connect(services.database_url)
        try:
            shots0 = await conn.fetchval("SELECT count(*) FROM snapshots")
            rss_start = rss_mib(web.pid)
            cpu0, wall0 = cpu_seconds(web.pid), time.monotonic()
            worker0 = cpu_seconds(procs[0].pid)
            rss_samples: list[tuple[float, float]] = []
            while time.monotonic() - wall0 < args.duration:
                await asyncio.sleep(min(5.0, args.duration / 10))
                rss_samples.append((time.monotonic() - wall0, rss_mib(web.pid)))
            cpu1, wall1 = cpu_seconds(web.pid), time.monotonic()
            worker1 = cpu_seconds(procs[0].pid)
            shots = await conn.fetchval("SELECT count(*) FROM snapshots") - shots0
        finally:
            await conn.close()
    finally:
        for pc in peers:
            with contextlib.suppress(Exception):
                await pc.close()
        await redis.aclose()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        services.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    wall = wall1 - wall0
    per_stream = 100 * (cpu1 - cpu0) / wall / args.streams
    minutes = [t / 60 for t, _ in rss_samples]
    rss = [r for _, r in rss_samples]
    slope = statistics.linear_regression(minutes, rss).slope if len(rss) >= 2 else 0.0
    frames = sorted((first_frame[a] - offered[a]) * 1000 for a in first_frame)
    return {
        "production_path": True,
        "streams": args.streams,
        "duration_s": args.duration,
        "fps": args.fps,
        "cpu_pct_per_stream": round(per_stream, 3),
        "streams_per_core": round(100 / per_stream) if per_stream > 0 else None,
        "worker_cpu_pct": round(100 * (worker1 - worker0) / wall, 1),
        "p95_first_frame_ms": percentile(frames, 95),
        "no_first_frame": args.streams - len(first_frame),
        "snapshots": shots,
        "rss_mib_per_peer": round((rss_start - rss_idle) / args.streams, 2),
        "rss_growth_mib_per_min": round(slope, 2),
        "web_rss_mib": rss[-1] if rss else rss_start,
        "received_keyframes_sent": sum(t.keyframes_sent for t in tracks),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    }


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, round(pct / 100 * (len(values) - 1)))]


def rss_mib(pid: int) -> float:
    return rss_kib(pid) / 1024


# -------------------------------------------------------------------- hub ---
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


# ------------------------------------------------------------------ driver ---
async def run_mode(
    args: argparse.Namespace, mode: str, fps: int, duration: float, storm: bool = False
) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--role",
        "hub",
        "--mode",
        mode,
        "--snapshot-every",
        str(args.snapshot_every),
    ]
    if args.profile:
        command.append("--profile")
    hub = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=None
    )
    assert hub.stdout is not None
    port = int(await hub.stdout.readline())
    enable_loopback_candidates()
    try:
        if storm:
            result = await connect_storm(args.storm_offers, args.storm_seconds, fps, port)
        else:
            result = await run_senders(
                args.streams, fps, duration, port, hub.pid, window_start=args.warmup
            )
    finally:
        try:
            await asyncio.wait_for(hub.wait(), 30)
        except TimeoutError:
            hub.kill()
            await hub.wait()
    return result


async def driver(args: argparse.Namespace) -> dict[str, Any]:
    if args.production:
        production = await production_run(args)
        if args.skip_baseline:
            return production
        same = await run_mode(args, "decode", args.fps, args.baseline_duration or args.duration)
        print(json.dumps({"run": "decode_same_fps", **same}), file=sys.stderr, flush=True)
        return {
            **production,
            "ratio_same_fps": round(
                same["cpu_pct_per_stream"] / production["cpu_pct_per_stream"], 2
            ),
            "decode_same_fps_cpu_pct_per_stream": round(same["cpu_pct_per_stream"], 3),
        }
    ours = await run_mode(args, "tap", args.fps, args.duration)
    print(json.dumps({"run": "ours", **ours}), file=sys.stderr, flush=True)
    if args.skip_baseline:
        return ours
    base = await run_mode(args, "decode", BASELINE_FPS, args.baseline_duration or args.duration)
    print(json.dumps({"run": "baseline", **base}), file=sys.stderr, flush=True)
    ratio = base["cpu_pct_per_stream"] / ours["cpu_pct_per_stream"]
    controls: dict[str, Any] = {}
    if not args.skip_controls:
        # the two honest controls: the same frame rate on both sides
        control_s = args.baseline_duration or args.duration
        same = await run_mode(args, "decode", args.fps, control_s)
        print(json.dumps({"run": "decode_same_fps", **same}), file=sys.stderr, flush=True)
        watched = await run_mode(args, "tap", BASELINE_FPS, control_s)
        print(json.dumps({"run": "tap_watched", **watched}), file=sys.stderr, flush=True)
        storm = await run_mode(args, "tap", args.fps, 0, storm=True)
        print(json.dumps({"run": "storm", **storm}), file=sys.stderr, flush=True)
        controls = {
            "ratio_same_fps": round(same["cpu_pct_per_stream"] / ours["cpu_pct_per_stream"], 2),
            "decode_same_fps_cpu_pct_per_stream": round(same["cpu_pct_per_stream"], 3),
            "ratio_watched": round(base["cpu_pct_per_stream"] / watched["cpu_pct_per_stream"], 2),
            "watched_cpu_pct_per_stream": round(watched["cpu_pct_per_stream"], 3),
            "watched_p95_snapshot_ms": watched["p95_snapshot_ms"],
            "connect_storm": storm,
        }
    return {
        "production_path": False,  # the benchmark's own receiving class (see the docstring)
        "p95_first_frame_ms": ours["p95_first_frame_ms"],
        **controls,
        "streams": args.streams,
        "duration_s": args.duration,
        "baseline_duration_s": args.baseline_duration or args.duration,
        "fps": ours["fps"],
        "baseline_fps": base["fps"],
        "cpu_pct_per_stream": round(ours["cpu_pct_per_stream"], 3),
        "baseline_cpu_pct_per_stream": round(base["cpu_pct_per_stream"], 3),
        "ratio": round(ratio, 2),
        "streams_per_core": round(100 / ours["cpu_pct_per_stream"]),
        "baseline_streams_per_core": round(100 / base["cpu_pct_per_stream"]),
        "snapshots": ours["snapshots"],
        "snapshot_errors": ours["snapshot_errors"],
        "p50_snapshot_ms": ours["p50_snapshot_ms"],
        "p95_snapshot_ms": ours["p95_snapshot_ms"],
        "baseline_p95_snapshot_ms": base["p95_snapshot_ms"],
        "received_fps_per_stream": round(ours["received_fps_per_stream"], 2),
        "baseline_decoded_fps_per_stream": round(base["received_fps_per_stream"], 2),
        "rss_mib_per_peer": round(ours["rss_mib_per_peer"], 2),
        "baseline_rss_mib_per_peer": round(base["rss_mib_per_peer"], 2),
        "rss_growth_mib_per_min": round(ours["rss_growth_mib_per_min"], 2),
        "baseline_rss_growth_mib_per_min": round(base["rss_growth_mib_per_min"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--baseline-duration", type=float, default=None, help="default: --duration")
    parser.add_argument("--fps", type=int, default=3, help="our senders' (low) frame rate")
    parser.add_argument("--snapshot-every", type=float, default=5.0)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--skip-controls",
        action="store_true",
        help="no same-rate controls (decode at --fps, tap at 15 fps) and no connect storm",
    )
    parser.add_argument(
        "--production",
        action="store_true",
        help="the real PeerRegistry in proctor serve --role web, against decode at --fps",
    )
    parser.add_argument("--storm-offers", type=int, default=100)
    parser.add_argument("--storm-seconds", type=float, default=10.0)
    parser.add_argument("--profile", action="store_true", help="cProfile the hub (to stderr)")
    parser.add_argument("--role", choices=["driver", "hub"], default="driver")
    parser.add_argument("--mode", choices=["tap", "decode"], default="tap")
    args = parser.parse_args()
    if args.role == "hub":
        hub_main(args)
        return
    import uvloop

    result = uvloop.run(driver(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
