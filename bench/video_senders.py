"""The sending side of bench/video_load.py's own-hub runs: N aiortc peers
replaying the clip to the benchmark hub (bench/video_hub.py), driven over its
line-per-JSON control connection; and the connect storm."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.measure import cpu_seconds, rss_mib, sorted_percentile
from bench.video_clip import CLIP_SECONDS, ReplayTrack, encode_clip


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
        "p50_snapshot_ms": sorted_percentile(latencies, 50),
        "p95_snapshot_ms": sorted_percentile(latencies, 95),
        "rss_mib_per_peer": (rss_start - rss_idle) / streams,
        "rss_growth_mib_per_min": slope,
        "hub_rss_mib": rss[-1] if rss else rss_start,
        "keyframes_sent": sum(t.keyframes_sent for t in tracks),
        "p95_first_frame_ms": sorted_percentile(first_frame_ms, 95),
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
        "p50_offer_answer_ms": sorted_percentile(answered, 50),
        "p99_offer_answer_ms": sorted_percentile(answered, 99),
        "p50_first_frame_ms": sorted_percentile(frames, 50),
        "p99_first_frame_ms": sorted_percentile(frames, 99),
        "no_first_frame": offers - len(first_frame),
    }
