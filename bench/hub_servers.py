"""The two servers of ``bench/hub_load.py``, each run in a process of its own:
the hub (the real app under uvicorn, as ``proctor serve`` runs it) and the bare
websockets echo server that gives the baseline cost per message.

    python bench/hub_servers.py --serve-hub PORT [--role web|worker|all] [--profile FILE]
                                [--memory-profile FILE]
    python bench/hub_servers.py --serve-echo PORT
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import percentile  # noqa: E402


def serve_hub(
    port: int, profile: str | None, role: str = "all", memory_profile: str | None = None
) -> None:
    """``role`` as ``proctor serve --role``: ``web`` leaves the persistence
    worker and the deadline scheduler to a process of their own.
    ``memory_profile``: tracemalloc snapshots at SIGUSR1 and SIGUSR2 (the load
    generator sends them around its connect phase), the allocations that grew
    in between written to this file, by line (where the memory per socket goes)."""
    import uvicorn

    from proctor.app import ROLES, create_app
    from proctor.server import server_config
    from proctor.settings import load_settings

    settings = load_settings(os.environ)
    app = create_app(settings, roles=frozenset(ROLES) if role == "all" else frozenset({role}))
    config = server_config(app, "127.0.0.1", port, log_level="warning")
    # The hub's own heartbeats and idle timeout find dead peers: no transport
    # pings in the benchmark (none on the echo server either).
    config.ws_ping_interval = None
    server = uvicorn.Server(config)
    profiler = cProfile.Profile() if profile else None

    async def watch() -> None:
        """Every 5 s to stderr: event-loop lag and the batcher's backlog."""
        await asyncio.sleep(5)  # the lifespan has started the hub by then
        hub = server.lifespan.state["hub"]  # what the wiring built
        import gc

        gc_worst = [0.0, 0.0]  # (start, worst) of full collections

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if info["generation"] != 2:
                return
            if phase == "start":
                gc_worst[0] = time.perf_counter()
            else:
                gc_worst[1] = max(gc_worst[1], time.perf_counter() - gc_worst[0])

        gc.callbacks.append(on_gc)
        appends: list[float] = []
        original_append = hub.batcher.append

        async def timed_append(*a: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await original_append(*a)
            finally:
                appends.append(time.perf_counter() - t0)

        hub.batcher.append = timed_append
        worst = 0.0
        last_print = time.monotonic()
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.05)
            worst = max(worst, time.monotonic() - t - 0.05)
            if time.monotonic() - last_print >= 5:
                print(
                    f"hub: loop lag max {worst * 1000:.0f} ms, batcher queue "
                    f"{len(hub.batcher._queue)}, attempts {len(hub.attempts)}, "
                    f"full gc max {gc_worst[1] * 1000:.0f} ms, "
                    f"server-side append p50/p99 {percentile(appends, 0.5) * 1000:.1f}/"
                    f"{percentile(appends, 0.99) * 1000:.1f} ms",
                    file=sys.stderr,
                    flush=True,
                )
                worst, last_print = 0.0, time.monotonic()
                gc_worst[1] = 0.0
                appends.clear()

    async def run() -> None:
        # Our own SIGTERM handler: uvicorn's re-raises the signal after shutdown.
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))
        watcher = asyncio.create_task(watch()) if os.environ.get("HUB_LOAD_WATCH") else None
        await server.serve()
        if watcher is not None:
            watcher.cancel()

    if memory_profile:
        _trace_memory_between_signals(memory_profile)
    if profiler is not None:
        # The load generator brackets the measured window with SIGUSR1/SIGUSR2,
        # so the profile shows the steady state, not the connection storm.
        signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
        signal.signal(signal.SIGUSR2, lambda *_: profiler.disable())
    import uvloop

    try:
        uvloop.run(run())
    finally:
        if profiler is not None and profile:
            profiler.dump_stats(profile)


def _trace_memory_between_signals(path: str) -> None:
    import tracemalloc

    tracemalloc.start(1)
    before: list[tracemalloc.Snapshot] = []

    def on_start(*_: Any) -> None:
        before[:] = [tracemalloc.take_snapshot()]

    def on_stop(*_: Any) -> None:
        if not before:
            return
        after = tracemalloc.take_snapshot()
        grown = after.compare_to(before[0], "lineno")
        total = sum(stat.size_diff for stat in grown)
        with open(path, "w", encoding="utf-8") as out:
            out.write(f"total grown: {total / 1024:.1f} KiB\n")
            for key, stats in (
                ("file", after.compare_to(before[0], "filename")[:30]),
                ("line", grown[:80]),
            ):
                out.write(f"by {key}:\n")
                for stat in stats:
                    out.write(
                        f"{stat.size_diff / 1024:10.1f} KiB {stat.count_diff:8d} {stat.traceback}\n"
                    )

    signal.signal(signal.SIGUSR1, on_start)
    signal.signal(signal.SIGUSR2, on_stop)


def serve_echo(port: int) -> None:
    import uvloop
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        stop = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
        async with serve(
            echo, "127.0.0.1", port, compression=None, backlog=4096, ping_interval=None
        ):
            await stop

    uvloop.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve-hub", type=int)
    parser.add_argument("--serve-echo", type=int)
    parser.add_argument("--role", default="all", choices=["all", "web", "worker"])
    parser.add_argument("--profile", help="write the hub's cProfile stats to this file")
    parser.add_argument("--memory-profile", help="write what the connect phase allocated here")
    cli = parser.parse_args()
    if cli.serve_hub:
        serve_hub(cli.serve_hub, cli.profile, cli.role, cli.memory_profile)
    elif cli.serve_echo:
        serve_echo(cli.serve_echo)
    else:
        parser.error("--serve-hub PORT or --serve-echo PORT")
