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
acknowledged heartbeats, focus events and clicks outside not found in the
Redis streams / in ``attempt_events`` once the persistence worker has caught
up; ``lost_events`` is their sum. The persistence worker and the deadline
scheduler run as ``proctor serve --role worker`` in a process of their own
(``--worker inline``: on the hub's loop, as ``--role all``). CPU and RSS of
the hub, the worker, Redis and PostgreSQL come from /proc (CPU seconds of
each process, robust to other work on the machine); the load average before
and after is printed with them. The last line printed is one JSON object
(docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import (  # noqa: E402
    children_cpu_seconds,
    cpu_seconds,
    free_port,
    loadavg,
    percentile,
    rss_kib,
)

HEARTBEAT_S = 5.0
FOCUS_MEAN_S = 60.0
CONNECT_CONCURRENCY = 100


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A hub or echo server (bench/hub_servers.py) in a process of its own."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "hub_servers.py"), *args], env=env
    )


async def wait_port(port: int, proc: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


# ----- the load generator ---------------------------------------------------------


@dataclass
class Stats:
    ingest_ms: list[float] = field(default_factory=list)
    commit_ms: list[float] = field(default_factory=list)  # focus events: CAS + PostgreSQL
    end_ms: list[float] = field(default_factory=list)
    sent: int = 0
    acked: int = 0
    acked_heartbeats: set[tuple[int, str, int]] = field(default_factory=set)
    acked_focus: dict[int, int] = field(default_factory=dict)  # lost + back
    acked_clicks: dict[int, int] = field(default_factory=dict)  # click_outside
    errors: list[str] = field(default_factory=list)
    closed_early: int = 0
    received: dict[str, int] = field(default_factory=dict)
    close_codes: dict[int, int] = field(default_factory=dict)
    closing: bool = False
    # Devices heartbeat from their connect on (a connect storm on a busy
    # machine can outlast the hub's 45 s idle timeout); latencies and message
    # counts are taken only inside the measured window.
    measuring: bool = False
    until: float = float("inf")
    window_acked: int = 0


@dataclass
class Device:
    attempt_id: int
    device: str
    url: str
    stats: Stats
    echo: bool
    ws: Any = None
    seq: int = 0
    pending: dict[int, tuple[float, str]] = field(default_factory=dict)
    ended_at: float | None = None
    quiet: bool = False  # no random focus events (sessions the bench ends)
    ended_event: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            self.url, compression=None, open_timeout=120, max_queue=64, ping_interval=None
        )
        if not self.echo:
            await self.ws.send(json.dumps({"type": "hello", "v": 1, "last_seen": 0}))
            welcome = json.loads(await self.ws.recv())
            assert welcome["type"] == "welcome", welcome

    async def send(self, kind: str, **fields: Any) -> None:
        self.seq += 1
        self.pending[self.seq] = (time.perf_counter(), kind)
        self.stats.sent += 1
        await self.ws.send(json.dumps({"type": kind, "seq": self.seq, **fields}))

    async def reader(self) -> None:
        stats = self.stats
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                kind = message.get("type")
                stats.received[kind] = stats.received.get(kind, 0) + 1
                if self.echo and "seq" in message:
                    kind = "ack"
                if kind == "ack":
                    sent = self.pending.pop(message["seq"], None)
                    if sent is not None:
                        took = (time.perf_counter() - sent[0]) * 1000
                        if not stats.measuring:
                            pass
                        elif sent[1] == "heartbeat" or self.echo:
                            stats.ingest_ms.append(took)
                        else:
                            stats.commit_ms.append(took)
                        stats.acked += 1
                        stats.window_acked += stats.measuring
                        if not self.echo and not message.get("duplicate"):
                            if sent[1] == "heartbeat":
                                stats.acked_heartbeats.add(
                                    (self.attempt_id, self.device, message["seq"])
                                )
                            elif sent[1] in ("focus", "click_outside"):
                                counts = (
                                    stats.acked_focus if sent[1] == "focus" else stats.acked_clicks
                                )
                                counts[self.attempt_id] = counts.get(self.attempt_id, 0) + 1
                elif kind == "ended":
                    self.ended_at = time.perf_counter()
                    self.ended_event.set()
                elif kind == "error":
                    stats.errors.append(message.get("code", "?"))
        except Exception:
            pass
        if not stats.closing:
            stats.closed_early += 1
            code = self.ws.close_code or 0
            stats.close_codes[code] = stats.close_codes.get(code, 0) + 1


async def device_loop(dev: Device, rng: random.Random) -> None:
    """Heartbeats (and the PC's focus events) until ``stats.until``."""
    await asyncio.sleep(rng.uniform(0, HEARTBEAT_S))
    next_focus = time.monotonic() + rng.expovariate(1 / FOCUS_MEAN_S)
    while time.monotonic() < dev.stats.until and dev.ended_at is None:
        try:
            await dev.send("heartbeat")
            # focus events only inside the window: the connect phase's length
            # follows the machine, and five violations would end a session
            if not dev.stats.measuring:  # no burst of overdue ones at the start
                next_focus = time.monotonic() + rng.expovariate(1 / FOCUS_MEAN_S)
            focus_due = dev.stats.measuring and time.monotonic() >= next_focus
            if dev.device == "pc" and not dev.quiet and focus_due:
                await dev.send("focus", state="lost", cause="blur")
                await asyncio.sleep(0.2)
                await dev.send("focus", state="back")
                next_focus = time.monotonic() + rng.expovariate(1 / FOCUS_MEAN_S)
        except Exception:
            return
        await asyncio.sleep(HEARTBEAT_S)


async def end_session(pc: Device, phone: Device, at: float) -> None:
    """Four violations early (1.5 s apart: beyond the H3 debounce), the fifth at ``at``."""
    try:
        for _ in range(4):
            await asyncio.sleep(1.5)
            await pc.send("click_outside")
        await asyncio.sleep(max(1.5, at - time.monotonic()))  # beyond the debounce
        start = time.perf_counter()
        await pc.send("click_outside")
    except Exception:
        pc.stats.errors.append("end_send_failed")
        return
    try:
        await asyncio.wait_for(
            asyncio.gather(pc.ended_event.wait(), phone.ended_event.wait()), timeout=10
        )
    except TimeoutError:
        pc.stats.errors.append("end_timeout")
        return
    assert pc.ended_at is not None and phone.ended_at is not None
    pc.stats.end_ms.append((max(pc.ended_at, phone.ended_at) - start) * 1000)


async def run_phase(
    urls: list[tuple[int, str, str]],
    duration: float,
    echo: bool,
    server_pids: list[int],
    end_sessions: int,
    seed: int,
    hubs: list[subprocess.Popen[bytes]] | None = None,
    profile_window: bool = False,
    others: dict[str, int] | None = None,
    memory_window: bool = False,
) -> dict[str, Any]:
    """One measured run. ``others``: role → pid of the processes beside the
    hub whose CPU is reported too (the worker; Redis and PostgreSQL with
    their children)."""
    others = others or {}
    stats = Stats()
    rng = random.Random(seed)
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    rss_before = sum(rss_kib(pid) for pid in server_pids)
    devices: list[Device] = []
    for attempt_id, pc_url, phone_url in urls:
        devices.append(Device(attempt_id, "pc", pc_url, stats, echo))
        devices.append(Device(attempt_id, "phone", phone_url, stats, echo))

    pairs = []
    if not echo:
        pairs = [(devices[2 * i], devices[2 * i + 1]) for i in range(min(end_sessions, len(urls)))]
        for pc, _ in pairs:
            pc.quiet = True
    readers: list[asyncio.Task[None]] = []
    loops: list[asyncio.Task[None]] = []

    async def connect(dev: Device) -> None:
        async with sem:
            await dev.connect()
        readers.append(asyncio.create_task(dev.reader()))
        loops.append(asyncio.create_task(device_loop(dev, rng)))

    for proc in hubs or [] if memory_window else []:
        proc.send_signal(signal.SIGUSR1)
    t0 = time.monotonic()
    await asyncio.gather(*(connect(d) for d in devices))
    connect_s = time.monotonic() - t0
    await asyncio.sleep(1.0)
    rss_connected = sum(rss_kib(pid) for pid in server_pids)
    for proc in hubs or [] if memory_window else []:
        proc.send_signal(signal.SIGUSR2)
    cpu0, wall0 = sum(cpu_seconds(pid) for pid in server_pids), time.monotonic()
    self0 = cpu_seconds(os.getpid())
    others0 = {role: children_cpu_seconds(pid) for role, pid in others.items()}
    for proc in hubs or [] if profile_window else []:
        proc.send_signal(signal.SIGUSR1)
    until = time.monotonic() + duration
    stats.until, stats.measuring = until, True
    enders = [
        asyncio.create_task(end_session(pc, phone, until - 2 - rng.uniform(0, 3)))
        for pc, phone in pairs
    ]
    await asyncio.gather(*loops, *enders)
    await asyncio.sleep(1.0)  # the last acks
    stats.measuring = False
    for proc in hubs or []:
        if proc.poll() is not None:
            raise RuntimeError(f"a hub exited with {proc.returncode} during the run")
    cpu1, wall1 = sum(cpu_seconds(pid) for pid in server_pids), time.monotonic()
    self1 = cpu_seconds(os.getpid())
    others1 = {role: children_cpu_seconds(pid) for role, pid in others.items()}
    for proc in hubs or [] if profile_window else []:
        proc.send_signal(signal.SIGUSR2)
    rss_end = sum(rss_kib(pid) for pid in server_pids)
    stats.closing = True
    for dev in devices:
        with contextlib.suppress(Exception):
            await dev.ws.close()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    cpu_s = cpu1 - cpu0
    return {
        "stats": stats,
        "websockets": len(devices),
        "connect_s": connect_s,
        "msgs": stats.window_acked,
        "msgs_per_s": stats.window_acked / (wall1 - wall0),
        "cpu_pct": 100 * cpu_s / (wall1 - wall0),
        "loadgen_cpu_pct": 100 * (self1 - self0) / (wall1 - wall0),
        "others_cpu_pct": {
            role: 100 * (others1[role] - others0[role]) / (wall1 - wall0) for role in others
        },
        "others_cpu_s": {role: others1[role] - others0[role] for role in others},
        "cpu_per_msg_us": 1e6 * cpu_s / max(1, stats.window_acked),
        "rss_kib_per_ws": (rss_connected - rss_before) / len(devices),
        "rss_total_kib": rss_end,
    }


KINDS = ("heartbeat", "focus", "click_outside")


def _missing(
    stats: Stats,
    heartbeats: set[tuple[int, str, int]],
    focus: dict[int, int],
    clicks: dict[int, int],
) -> dict[str, int]:
    """Acknowledged events of each kind not among those found."""
    return {
        "heartbeat": len(stats.acked_heartbeats - heartbeats),
        "focus": sum(max(0, n - focus.get(a, 0)) for a, n in stats.acked_focus.items()),
        "click_outside": sum(max(0, n - clicks.get(a, 0)) for a, n in stats.acked_clicks.items()),
    }


def _attempts(stats: Stats) -> list[int]:
    return sorted(
        {a for a, _, _ in stats.acked_heartbeats} | set(stats.acked_focus) | set(stats.acked_clicks)
    )


async def count_in_redis(redis_url: str, prefix: str, stats: Stats) -> dict[str, int]:
    """Acknowledged events missing from the streams, by kind."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    found: set[tuple[int, str, int]] = set()
    focus: dict[int, int] = {}
    clicks: dict[int, int] = {}
    try:
        for attempt_id in _attempts(stats):
            stream = f"{prefix}:{{att:{attempt_id}}}:events"
            for _, f in await redis.xrange(stream):
                kind = f[b"kind"]
                if kind == b"heartbeat":
                    found.add((attempt_id, f[b"device"].decode(), int(f[b"seq"])))
                elif kind == b"focus":
                    state = json.loads(f[b"data"]).get("state")
                    counts = clicks if state == "click_outside" else focus
                    counts[attempt_id] = counts.get(attempt_id, 0) + 1
    finally:
        await redis.aclose()
    return _missing(stats, found, focus, clicks)


async def count_in_postgres(
    database_url: str, stats: Stats, within_s: float = 120.0
) -> tuple[dict[str, int], int, float]:
    """Acknowledged events missing from ``attempt_events`` once the worker has
    caught up (nothing missing, or no progress for 15 s, or ``within_s``):
    the losses by kind, the rows found, and the seconds waited."""
    import asyncpg

    attempts = _attempts(stats)
    conn = await asyncpg.connect(database_url)
    t0 = time.monotonic()
    last_rows, last_change = -1, t0
    try:
        while True:
            rows = await conn.fetch(
                """SELECT attempt_id, device, kind, data->>'state' AS state,
                          (data->>'seq')::bigint AS seq
                     FROM attempt_events WHERE attempt_id = ANY($1::bigint[])
                      AND kind IN ('heartbeat', 'focus')""",
                attempts,
            )
            found = {
                (r["attempt_id"], r["device"], r["seq"]) for r in rows if r["kind"] == "heartbeat"
            }
            focus: dict[int, int] = {}
            clicks: dict[int, int] = {}
            for r in rows:
                if r["kind"] == "focus":
                    counts = clicks if r["state"] == "click_outside" else focus
                    counts[r["attempt_id"]] = counts.get(r["attempt_id"], 0) + 1
            missing = _missing(stats, found, focus, clicks)
            now = time.monotonic()
            if len(rows) != last_rows:
                last_rows, last_change = len(rows), now
            if not any(missing.values()) or now - last_change > 15 or now - t0 > within_s:
                return missing, len(rows), now - t0
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def make_attempts(database_url: str, secret: bytes, sessions: int) -> list[int]:
    import asyncpg

    from proctor.db import apply_schema

    conn = await asyncpg.connect(database_url)
    try:
        await apply_schema(conn)
        stamp = f"{os.getpid()}_{int(time.time())}"
        user_ids = [
            r["id"]
            for r in await conn.fetch(
                """INSERT INTO users (username, password_hash, role, real_name)
                   SELECT 'bench_' || $1 || '_' || g, 'x', 'candidate', '压测考生'
                     FROM generate_series(1, $2) g RETURNING id""",
                stamp,
                sessions,
            )
        ]
        class_id = await conn.fetchval(
            "INSERT INTO classes (name) VALUES ($1) RETURNING id", f"bench_{stamp}"
        )
        paper_id = await conn.fetchval(
            """INSERT INTO papers (class_id, kind, title, time_limit_s)
               VALUES ($1, 'mock', '压测试卷', 7200) RETURNING id""",
            class_id,
        )
        now = datetime.now(UTC)
        rows = await conn.fetch(
            """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
               SELECT u, $2, $3, $4 FROM unnest($1::bigint[]) u RETURNING id""",
            user_ids,
            paper_id,
            now,
            now + timedelta(hours=2),
        )
        return sorted(r["id"] for r in rows)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from hub.tokens import sign_device_token
    from proctor.embedded import start_services
    from proctor.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="hub_load_"))
    services = start_services(
        os.environ.get("PROCTOR_DATABASE_URL"), os.environ.get("PROCTOR_REDIS_URL"), tmp
    )
    prefix = f"bench{os.getpid()}"
    env = {
        **os.environ,
        "PROCTOR_DATABASE_URL": services.database_url,
        "PROCTOR_REDIS_URL": services.redis_url,
        "PROCTOR_DATA_DIR": str(tmp / "data"),
        "PROCTOR_REDIS_PREFIX": prefix,
        "PROCTOR_SECRET_KEY": "bench-secret-key-0123456789",
    }
    settings = load_settings(env)
    procs: list[subprocess.Popen[bytes]] = []
    load_before = loadavg()
    try:
        attempt_ids = await make_attempts(services.database_url, settings.secret_key, args.sessions)
        others: dict[str, int] = {}
        if services.redis is not None and services.redis._proc is not None:
            others["redis"] = services.redis._proc.pid
        if services.postgres is not None:
            pidfile = services.postgres.pgdata / "postmaster.pid"
            others["pg"] = int(pidfile.read_text().split()[0])
        worker: subprocess.Popen[bytes] | None = None
        if args.worker == "process":
            # the production path: the worker role as `proctor serve` runs it
            worker_port = free_port()
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "proctor.cli",
                    "serve",
                    "--role",
                    "worker",
                    "--port",
                    str(worker_port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                cwd=ROOT,
            )
            procs.append(worker)
            await wait_port(worker_port, worker)
            others["worker"] = worker.pid
        hubs: list[subprocess.Popen[bytes]] = []
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
            hub = spawn(hub_args, env)
            procs.append(hub)
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
        lost_in_redis = await count_in_redis(services.redis_url, prefix, stats)
        lost_in_pg, in_pg, caught_up_s = await count_in_postgres(services.database_url, stats)
        t_stop = time.monotonic()
        for hub in hubs:
            hub.send_signal(signal.SIGTERM)
        for hub in hubs:
            try:
                hub.wait(timeout=120)
            except subprocess.TimeoutExpired:
                hub.kill()
        shutdown_s = time.monotonic() - t_stop
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)

        echo_port = free_port()
        echo = spawn(["--serve-echo", str(echo_port)], env)
        procs.append(echo)
        await wait_port(echo_port, echo)
        echo_urls = [
            (a, f"ws://127.0.0.1:{echo_port}/", f"ws://127.0.0.1:{echo_port}/") for a in attempt_ids
        ]
        bare = await run_phase(echo_urls, args.duration, True, [echo.pid], 0, 1)
        echo.send_signal(signal.SIGTERM)
        echo.wait(timeout=30)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        services.stop()
        shutil.rmtree(tmp, ignore_errors=True)

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
