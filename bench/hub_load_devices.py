"""The load generator of bench/hub_load.py: simulated exam devices (a PC and
a phone websocket per session) sending the benchmark's message mix, and one
measured phase against a hub or the bare echo server.

The mix: a heartbeat every ``HEARTBEAT_S`` on each device (random phase),
focus lost + back on each PC about every ``FOCUS_MEAN_S`` (bench/fanout.py
sends the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from bench.measure import children_cpu_seconds, cpu_seconds, rss_kib

HEARTBEAT_S = 5.0
FOCUS_MEAN_S = 60.0
CONNECT_CONCURRENCY = 100


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
