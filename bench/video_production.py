"""bench/video_load.py --production: the senders against the real ingest,
``proctor serve --role web`` with a worker beside it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.measure import cpu_seconds, rss_mib, sorted_percentile
from bench.video_clip import CLIP_SECONDS, ReplayTrack, encode_clip
from webrtc.loopback import enable_loopback_candidates


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

    import asyncpg
    import httpx
    from redis.asyncio import Redis

    from bench.attempts import make_attempts
    from bench.measure import free_port, loadavg
    from bench.processes import BENCH_SECRET_KEY, bench_services, serve_role, stop_all, wait_port
    from hub.devices import Camera
    from hub.keys import Keys
    from hub.state_schema import read_views
    from hub.tokens import sign_device_token

    prefix = f"video{os.getpid()}"
    secret = BENCH_SECRET_KEY
    with bench_services("video_prod_", prefix) as bench:
        services = bench.services
        load_before = loadavg()
        redis = Redis.from_url(services.redis_url)
        peers: list[RTCPeerConnection] = []
        try:
            attempt_ids = await make_attempts(services.database_url, secret.encode(), args.streams)
            ports = {}
            for role in ("worker", "web"):
                ports[role] = free_port()
                proc = bench.add(serve_role(role, ports[role], bench.env, quiet=True))
                await wait_port(ports[role], proc)
            web = bench.procs[-1]
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
                views = await read_views(
                    redis, keys, [a for a in attempt_ids if a not in first_frame]
                )
                now = time.monotonic()
                for a, view in views.items():
                    if (
                        view.session is not None
                        and view.session.devices["pc"].camera is Camera.LIVE
                    ):
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
                worker0 = cpu_seconds(bench.procs[0].pid)
                rss_samples: list[tuple[float, float]] = []
                while time.monotonic() - wall0 < args.duration:
                    await asyncio.sleep(min(5.0, args.duration / 10))
                    rss_samples.append((time.monotonic() - wall0, rss_mib(web.pid)))
                cpu1, wall1 = cpu_seconds(web.pid), time.monotonic()
                worker1 = cpu_seconds(bench.procs[0].pid)
                shots = await conn.fetchval("SELECT count(*) FROM snapshots") - shots0
            finally:
                await conn.close()
        finally:
            for pc in peers:
                with contextlib.suppress(Exception):
                    await pc.close()
            await redis.aclose()
            stop_all(bench.procs, timeout=30)
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
        "p95_first_frame_ms": sorted_percentile(frames, 95),
        "no_first_frame": args.streams - len(first_frame),
        "snapshots": shots,
        "rss_mib_per_peer": round((rss_start - rss_idle) / args.streams, 2),
        "rss_growth_mib_per_min": round(slope, 2),
        "web_rss_mib": rss[-1] if rss else rss_start,
        "received_keyframes_sent": sum(t.keyframes_sent for t in tracks),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    }
