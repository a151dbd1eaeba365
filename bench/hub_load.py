"""Hub load: N simulated exam sessions (a PC and a phone websocket each)
against one hub process, then the same message mix against a bare
websockets echo server (uvloop) for the cost ratio.

    .venv/bin/python bench/hub_load.py --sessions 5000 --duration 60

Embedded PostgreSQL and Redis are started in a temporary folder unless
PROCTOR_DATABASE_URL / PROCTOR_REDIS_URL are set. The hub runs in its own
process (uvicorn, uvloop, websockets-sansio, no compression); the load
generator runs in this one. Each device sends a heartbeat every 5 s (random
phase); PCs send random focus events (lost + back, ~1 a minute each). For
``--end-sessions`` sessions, four violations are made early and the fifth
near the end: ``p99_end_ms`` is 5th violation sent → ``ended`` received on
both devices. ``p50/p99_ingest_ms``: client send → ack (the hub acks after
the entry is stored in Redis). ``lost_in_redis`` / ``lost_in_postgres``:
acknowledged heartbeats, focus events and clicks outside found neither in the
Redis streams nor (trimmed once written, issue #10) in ``attempt_events`` /
not in ``attempt_events`` once the persistence worker has caught up; ``lost_events`` is their sum. The persistence worker and the deadline
scheduler run as ``proctor serve --role worker`` in a process of their own
(``--worker inline``: on the hub's loop, as ``--role all``). CPU and RSS of
the hub, the worker, Redis and PostgreSQL come from /proc (CPU seconds of
each process, robust to other work on the machine); the load average before
and after is printed with them. The last line printed is one JSON object
(docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.attempts import make_attempts  # noqa: E402
from bench.hub_load_devices import Stats, run_phase  # noqa: E402
from bench.hub_load_losses import count_in_postgres, found_in_redis  # noqa: E402
from bench.hub_load_losses import lost_in_redis as lost_in  # noqa: E402
from bench.measure import free_port, loadavg, percentile  # noqa: E402
from bench.processes import (  # noqa: E402
    Process,
    bench_services,
    serve_role,
    spawn_hub_server,
    stop_all,
    wait_port,
)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from hub.tokens import sign_device_token
    from proctor.settings import load_settings

    prefix = f"bench{os.getpid()}"
    with bench_services("hub_load_", prefix) as bench:
        services = bench.services
        settings = load_settings(bench.env)
        load_before = loadavg()
        attempt_ids = await make_attempts(services.database_url, settings.secret_key, args.sessions)
        others: dict[str, int] = bench.service_pids()
        worker: Process | None = None
        if args.worker == "process":
            # the production path: the worker role as `proctor serve` runs it
            worker_port = free_port()
            worker = bench.add(serve_role("worker", worker_port, bench.env))
            await wait_port(worker_port, worker)
            others["worker"] = worker.pid
        hubs: list[Process] = []
        ports: list[int] = []
        for n in range(args.hubs):
            port = free_port()
            hub_args = ["--serve-hub", str(port)]
            if worker is not None:
                hub_args += ["--role", "web"]
            if args.profile:
                hub_args += ["--profile", f"{args.profile}.{n}" if args.hubs > 1 else args.profile]
            if args.memory_profile:
                hub_args += ["--memory-profile", f"{args.memory_profile}.{n}"]
            hub = bench.add(spawn_hub_server(hub_args, bench.env))
            hubs.append(hub)
            ports.append(port)
            await wait_port(port, hub)
        now = time.time()
        # With several hubs (rule H8), a session's PC and phone land on
        # different processes, as behind a load balancer.
        urls = [
            (
                a,
                f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/pc?token="
                + sign_device_token(settings.secret_key, a, "pc", now, 7200),
                f"ws://127.0.0.1:{ports[(i + 1) % len(ports)]}/ws/phone?token="
                + sign_device_token(settings.secret_key, a, "phone", now, 7200),
            )
            for i, a in enumerate(attempt_ids)
        ]
        ours = await run_phase(
            urls,
            args.duration,
            False,
            [h.pid for h in hubs],
            args.end_sessions,
            1,
            hubs,
            bool(args.profile),
            others,
            bool(args.memory_profile),
        )
        load_after = loadavg()
        stats: Stats = ours["stats"]
        in_redis = await found_in_redis(services.redis_url, prefix, stats)
        lost_in_pg, in_pg, caught_up_s, in_postgres = await count_in_postgres(
            services.database_url, stats
        )
        lost_in_redis = lost_in(stats, in_redis, in_postgres)
        t_stop = time.monotonic()
        stop_all(hubs, timeout=120)
        shutdown_s = time.monotonic() - t_stop
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)

        echo_port = free_port()
        echo = bench.add(spawn_hub_server(["--serve-echo", str(echo_port)], bench.env))
        await wait_port(echo_port, echo)
        echo_urls = [
            (a, f"ws://127.0.0.1:{echo_port}/", f"ws://127.0.0.1:{echo_port}/") for a in attempt_ids
        ]
        bare = await run_phase(echo_urls, args.duration, True, [echo.pid], 0, 1)
        echo.terminate()
        echo.wait(timeout=30)

    errors: dict[str, int] = {}
    for code in stats.errors:
        errors[code] = errors.get(code, 0) + 1
    return {
        "sessions": args.sessions,
        "hubs": args.hubs,
        "websockets": ours["websockets"],
        "duration_s": args.duration,
        "connect_s": round(ours["connect_s"], 1),
        "msgs_per_s": round(ours["msgs_per_s"], 1),
        "p50_ingest_ms": round(percentile(stats.ingest_ms, 0.50), 2),
        "p99_ingest_ms": round(percentile(stats.ingest_ms, 0.99), 2),
        "p99_commit_ms": round(percentile(stats.commit_ms, 0.99), 2),
        "p99_end_ms": round(percentile(stats.end_ms, 0.99), 2),
        "ended_sessions": len(stats.end_ms),
        "hub_cpu_pct": round(ours["cpu_pct"], 1),  # all hub processes together
        "hub_cpu_us_per_msg": round(ours["cpu_per_msg_us"], 1),
        "hub_rss_kib_per_ws": round(ours["rss_kib_per_ws"], 1),
        "hub_rss_total_mib": round(ours["rss_total_kib"] / 1024, 1),
        "lost_events": sum(lost_in_redis.values()) + sum(lost_in_pg.values()),
        "lost_in_redis": lost_in_redis,
        "lost_in_postgres": lost_in_pg,
        "acked": {
            "heartbeat": len(stats.acked_heartbeats),
            "focus": sum(stats.acked_focus.values()),
            "click_outside": sum(stats.acked_clicks.values()),
        },
        "events_in_postgres": in_pg,
        "postgres_caught_up_s": round(caught_up_s, 1),
        "worker": args.worker,
        "worker_cpu_pct": _pct(ours, "worker"),
        "redis_cpu_pct": _pct(ours, "redis"),
        "pg_cpu_pct": _pct(ours, "pg"),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "errors": errors,
        "closed_early": stats.closed_early,
        "close_codes": stats.close_codes,
        "loadgen_cpu_pct": round(ours["loadgen_cpu_pct"], 1),
        "hub_shutdown_s": round(shutdown_s, 1),
        "received": stats.received,
        "baseline_msgs_per_s": round(bare["msgs_per_s"], 1),
        "baseline_cpu_pct": round(bare["cpu_pct"], 1),
        "baseline_cpu_us_per_msg": round(bare["cpu_per_msg_us"], 1),
        "cost_ratio": round(ours["cpu_per_msg_us"] / max(1e-9, bare["cpu_per_msg_us"]), 2),
        # the hub and its worker together (the worker's CPU per hub message)
        "cost_ratio_with_worker": round(
            (
                ours["cpu_per_msg_us"]
                + 1e6 * ours["others_cpu_s"].get("worker", 0) / max(1, stats.window_acked)
            )
            / max(1e-9, bare["cpu_per_msg_us"]),
            2,
        ),
    }


def _pct(phase: dict[str, Any], role: str) -> float | None:
    value = phase["others_cpu_pct"].get(role)
    return None if value is None else round(value, 1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--end-sessions", type=int, default=50)
    parser.add_argument(
        "--hubs", type=int, default=1, help="hub processes (a session's devices split across them)"
    )
    parser.add_argument(
        "--worker",
        default="process",
        choices=["process", "inline"],
        help="process: `proctor serve --role worker` beside the hub (default); "
        "inline: the worker on the hub's loop (`--role all`)",
    )
    parser.add_argument("--profile", help="write the hub's cProfile stats to this file")
    parser.add_argument(
        "--memory-profile",
        help="the hub's allocations during the connect phase, by line, to FILE.<n> "
        "(tracemalloc: slows the hub, so its other figures are not comparable)",
    )
    cli = parser.parse_args()
    import uvloop

    result = uvloop.run(main(cli))
    print(json.dumps(result))
