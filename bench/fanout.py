"""Fan-out to invigilators: S exam sessions producing events at the hub
benchmark's rate, V invigilators each following a room of R sessions.

    .venv/bin/python bench/fanout.py --viewers 100 --sessions-per-viewer 30 --duration 60

S = V × R sessions (a PC and a phone websocket each, heartbeats every 5 s,
a focus lost/back pair about once a minute on every PC: bench/hub_load.py's
mix). Each viewer is an invigilator assigned to a room (a class with a formal
paper) of R running attempts; the hub has no room socket — the wall polls
over HTTP (bench/wall_poll.py) and each watched tile is a ``/ws/watch``
socket — so a viewer holds R watch sockets, one per tile, with its own
session cookie. With ``--hubs H`` the candidates' sockets go to one hub
process and the viewer's to another (rule H8: the message crosses Redis
pub/sub). The persistence worker runs as ``proctor serve --role worker``.

``p99_fanout_ms``: the hub accepted the event (the ``server_time`` the hub
stamps on a ``state`` when it applies the event, same machine clock) → the
message read on the viewer's socket. ``missed``: every ``state`` and
``violation`` the session's PC received during the run must reach each of the
session's watchers; those that did not. ``events_per_s_delivered``: fan-out
messages (``state``, ``violation``, ``ended``) read by viewers per second.
The last line printed is one JSON object (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hub_load_devices import FOCUS_MEAN_S, HEARTBEAT_S  # noqa: E402
from bench.measure import (  # noqa: E402
    cpu_seconds,
    free_port,
    loadavg,
    percentile,
    role_cpu_seconds,
    rss_kib,
)
from bench.processes import (  # noqa: E402
    bench_services,
    serve_role,
    spawn_hub_server,
    stop_all,
    wait_port,
)

CONNECT_CONCURRENCY = 100
FANOUT_KINDS = ("state", "violation", "ended")


@dataclass
class Seen:
    """What one socket read: state server times and violation indices."""

    states: set[float] = field(default_factory=set)
    violations: set[int] = field(default_factory=set)


@dataclass
class Totals:
    fanout_ms: list[float] = field(default_factory=list)
    delivered: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    closed_early: int = 0
    measuring: bool = False
    closing: bool = False

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _open(url: str, headers: dict[str, str] | None = None) -> Any:
    from websockets.asyncio.client import connect

    return await connect(
        url,
        compression=None,
        open_timeout=120,
        max_queue=256,
        ping_interval=None,
        additional_headers=headers,
    )


@dataclass
class Candidate:
    attempt_id: int
    pc_url: str
    phone_url: str
    totals: Totals
    seen: Seen = field(default_factory=Seen)
    sockets: dict[str, Any] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=lambda: {"pc": 0, "phone": 0})

    async def connect(self) -> None:
        for device, url in (("pc", self.pc_url), ("phone", self.phone_url)):
            ws = await _open(url)
            await ws.send(json.dumps({"type": "hello", "v": 1, "last_seen": 0}))
            welcome = json.loads(await ws.recv())
            assert welcome["type"] == "welcome", welcome
            self.sockets[device] = ws

    async def send(self, device: str, kind: str, **fields: Any) -> None:
        self.seqs[device] += 1
        await self.sockets[device].send(
            json.dumps({"type": kind, "seq": self.seqs[device], **fields})
        )

    async def reader(self, device: str) -> None:
        try:
            async for raw in self.sockets[device]:
                message = json.loads(raw)
                if device != "pc" or not self.totals.measuring:
                    continue
                if message["type"] == "state":
                    self.seen.states.add(message["server_time"])
                elif message["type"] == "violation":
                    self.seen.violations.add(message["index"])
                elif message["type"] == "error":
                    self.totals.error(str(message.get("code")))
        except Exception:
            pass
        if not self.totals.closing:
            self.totals.closed_early += 1

    async def produce(self, until: float, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, HEARTBEAT_S))
        next_focus = time.monotonic() + rng.expovariate(1 / FOCUS_MEAN_S)
        while time.monotonic() < until:
            try:
                await self.send("pc", "heartbeat")
                await self.send("phone", "heartbeat")
                if time.monotonic() >= next_focus:
                    await self.send("pc", "focus", state="lost", cause="blur")
                    await asyncio.sleep(0.2)
                    await self.send("pc", "focus", state="back")
                    next_focus = time.monotonic() + rng.expovariate(1 / FOCUS_MEAN_S)
            except Exception:
                self.totals.error("send_failed")
                return
            await asyncio.sleep(HEARTBEAT_S)


@dataclass
class Tile:
    """One watch socket of a viewer: an attempt of the viewer's room."""

    attempt_id: int
    url: str
    cookie: str
    totals: Totals
    seen: Seen = field(default_factory=Seen)
    ws: Any = None

    async def connect(self) -> None:
        self.ws = await _open(self.url, {"Cookie": f"proctor_session={self.cookie}"})
        first = json.loads(await self.ws.recv())
        assert first["type"] == "state", first

    async def reader(self) -> None:
        totals = self.totals
        try:
            async for raw in self.ws:
                got = time.time()
                message = json.loads(raw)
                kind = message["type"]
                if not totals.measuring or kind not in FANOUT_KINDS:
                    continue
                totals.delivered += 1
                if kind == "state":
                    self.seen.states.add(message["server_time"])
                    totals.fanout_ms.append((got - message["server_time"]) * 1000)
                elif kind == "violation":
                    self.seen.violations.add(message["index"])
        except Exception:
            pass
        if not totals.closing:
            totals.closed_early += 1


async def make_rooms(
    database_url: str, viewers: int, per_viewer: int
) -> tuple[list[list[int]], list[str]]:
    """``viewers`` rooms of ``per_viewer`` running attempts each, and one
    signed-in invigilator assigned to each room (its cookie token)."""
    import asyncpg

    from proctor.db import apply_schema
    from proctor.web_sessions import create_session

    conn = await asyncpg.connect(database_url)
    try:
        await apply_schema(conn)
        stamp = f"{os.getpid()}_{int(time.time())}"
        now = datetime.now(UTC)
        rooms: list[list[int]] = []
        cookies: list[str] = []
        for v in range(viewers):
            class_id = await conn.fetchval(
                "INSERT INTO classes (name) VALUES ($1) RETURNING id", f"fanout_{stamp}_{v}"
            )
            paper_id = await conn.fetchval(
                """INSERT INTO papers (class_id, kind, title, time_limit_s)
                   VALUES ($1, 'formal', '压测正式考试', 7200) RETURNING id""",
                class_id,
            )
            invigilator = await conn.fetchval(
                """INSERT INTO users (username, password_hash, role, real_name)
                   VALUES ($1, 'x', 'invigilator', '压测监考员') RETURNING id""",
                f"fanout_inv_{stamp}_{v}",
            )
            await conn.execute(
                "INSERT INTO invigilator_assignments (class_id, user_id) VALUES ($1, $2)",
                class_id,
                invigilator,
            )
            users = [
                r["id"]
                for r in await conn.fetch(
                    """INSERT INTO users (username, password_hash, role, real_name)
                       SELECT 'fanout_' || $1 || '_' || $2 || '_' || g, 'x', 'candidate',
                              '压测考生'
                         FROM generate_series(1, $3) g RETURNING id""",
                    stamp,
                    str(v),
                    per_viewer,
                )
            ]
            await conn.executemany(
                "INSERT INTO class_members (class_id, user_id) VALUES ($1, $2)",
                [(class_id, u) for u in users],
            )
            rows = await conn.fetch(
                """INSERT INTO attempts (user_id, paper_id, started_at, deadline_at)
                   SELECT u, $2, $3, $4 FROM unnest($1::bigint[]) u RETURNING id""",
                users,
                paper_id,
                now,
                now + timedelta(hours=2),
            )
            rooms.append(sorted(r["id"] for r in rows))
            token, _ = await create_session(conn, invigilator, now)
            cookies.append(token)
        return rooms, cookies
    finally:
        await conn.close()


def _missed(candidates: list[Candidate], tiles: list[Tile], since: float) -> int:
    """Messages a session's PC read during the run that one of its tiles did not."""
    by_attempt = {c.attempt_id: c for c in candidates}
    missed = 0
    for tile in tiles:
        pc = by_attempt[tile.attempt_id].seen
        states = {t for t in pc.states if t >= since}
        missed += len(states - tile.seen.states) + len(pc.violations - tile.seen.violations)
    return missed


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from hub.tokens import sign_device_token
    from proctor.settings import load_settings

    totals = Totals()
    with bench_services("fanout_", f"fanout{os.getpid()}") as bench:
        services = bench.services
        settings = load_settings(bench.env)
        load_before = loadavg()
        rooms, cookies = await make_rooms(
            services.database_url, args.viewers, args.sessions_per_viewer
        )
        worker_port = free_port()
        worker = bench.add(serve_role("worker", worker_port, bench.env))
        await wait_port(worker_port, worker)
        hubs, ports = [], []
        for _ in range(args.hubs):
            port = free_port()
            hub = bench.add(
                spawn_hub_server(["--serve-hub", str(port), "--role", "web"], bench.env)
            )
            hubs.append(hub)
            ports.append(port)
            await wait_port(port, hub)
        device_port, viewer_port = ports[0], ports[1 % len(ports)]
        now = time.time()
        candidates: list[Candidate] = []
        tiles: list[Tile] = []
        for room, cookie in zip(rooms, cookies, strict=True):
            for a in room:
                candidates.append(
                    Candidate(
                        a,
                        f"ws://127.0.0.1:{device_port}/ws/pc?token="
                        + sign_device_token(settings.secret_key, a, "pc", now, 7200),
                        f"ws://127.0.0.1:{device_port}/ws/phone?token="
                        + sign_device_token(settings.secret_key, a, "phone", now, 7200),
                        totals,
                    )
                )
                tiles.append(
                    Tile(a, f"ws://127.0.0.1:{viewer_port}/ws/watch?attempt={a}", cookie, totals)
                )
        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def bounded(coro: Any) -> None:
            async with sem:
                await coro

        t0 = time.monotonic()
        await asyncio.gather(*(bounded(c.connect()) for c in candidates))
        await asyncio.gather(*(bounded(t.connect()) for t in tiles))
        connect_s = time.monotonic() - t0
        readers = [asyncio.create_task(c.reader(d)) for c in candidates for d in ("pc", "phone")]
        readers += [asyncio.create_task(t.reader()) for t in tiles]
        await asyncio.sleep(1.0)
        pids = {"hub": [h.pid for h in hubs], "worker": [worker.pid]}
        pids.update({role: [pid] for role, pid in bench.service_pids().items()})
        cpu0, wall0, self0 = role_cpu_seconds(pids), time.monotonic(), cpu_seconds(os.getpid())
        since = time.time()
        totals.measuring = True
        rng = random.Random(1)
        until = time.monotonic() + args.duration
        await asyncio.gather(*(c.produce(until, rng) for c in candidates))
        await asyncio.sleep(2.0)  # the last messages in flight
        totals.measuring = False
        cpu1, wall1, self1 = role_cpu_seconds(pids), time.monotonic(), cpu_seconds(os.getpid())
        load_after = loadavg()
        rss_mib = sum(rss_kib(h.pid) for h in hubs) / 1024
        totals.closing = True
        for c in candidates:
            for ws in c.sockets.values():
                with contextlib.suppress(Exception):
                    await ws.close()
        for t in tiles:
            with contextlib.suppress(Exception):
                await t.ws.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        missed = _missed(candidates, tiles, since)
        stop_all([*hubs, worker], timeout=60)
    wall = wall1 - wall0
    return {
        "sessions": len(candidates),
        "viewers": args.viewers,
        "sessions_per_viewer": args.sessions_per_viewer,
        "watch_sockets": len(tiles),
        "websockets": 2 * len(candidates) + len(tiles),
        "hubs": args.hubs,
        "duration_s": args.duration,
        "connect_s": round(connect_s, 1),
        "events_per_s_delivered": round(totals.delivered / wall, 1),
        "delivered": totals.delivered,
        "p50_fanout_ms": round(percentile(totals.fanout_ms, 0.50), 2),
        "p99_fanout_ms": round(percentile(totals.fanout_ms, 0.99), 2),
        "max_fanout_ms": round(max(totals.fanout_ms, default=float("nan")), 2),
        "missed": missed,
        "errors": totals.errors,
        "closed_early": totals.closed_early,
        "cpu_pct": {
            role: round(100 * (cpu1[r] - cpu0[r]) / wall, 1) for r, role in ((r, r) for r in cpu0)
        },
        "loadgen_cpu_pct": round(100 * (self1 - self0) / wall, 1),
        "hub_rss_mib": round(rss_mib, 1),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--sessions-per-viewer", type=int, default=30)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument(
        "--hubs", type=int, default=1, help="2: the candidates on one hub, the viewers on another"
    )
    cli = parser.parse_args()
    import uvloop

    result = uvloop.run(main(cli))
    print(json.dumps(result))
