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
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.video_hub import hub_main
from bench.video_production import production_run
from bench.video_senders import connect_storm, run_senders
from webrtc.loopback import enable_loopback_candidates

BASELINE_FPS = 15


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
