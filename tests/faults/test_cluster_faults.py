"""Fault tests against the multi-process deployment (issue #10, rules H1, H8,
O1): ``proctor cluster`` with three web processes behind HAProxy, live
sessions of resuming clients (``tests/support/resuming.py``), and one fault
each — a web process killed, the persistence worker killed between reading
and acknowledging, PostgreSQL and Redis killed and brought back by the
supervisor — then a soak. Each prints what the devices were told was stored
and what PostgreSQL holds, as numbers; none may be missing or counted twice.

Run by ``make test-faults`` (``pytest --faults tests/faults``), not by
``make test``. ``PROCTOR_FAULT_SESSIONS`` (default 200),
``PROCTOR_SOAK_SESSIONS`` (200) and ``PROCTOR_SOAK_SECONDS`` (120) size them;
results in docs/reliability.md."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import statistics

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]  # no stubs installed

from hub.keys import PERSIST_GROUP, Keys
from proctor.settings import Settings
from tests.support.cluster_process import ClusterProcess
from tests.support.fault_sessions import (
    Comparison,
    compare,
    end_at_deadline_now,
    fleet_of,
    running_attempts,
)
from tests.support.resuming import Fleet
from tests.support.serve_process import embedded_processes, pid_in
from tests.support.waits import eventually

SESSIONS = int(os.environ.get("PROCTOR_FAULT_SESSIONS", "200"))
SOAK_SESSIONS = int(os.environ.get("PROCTOR_SOAK_SESSIONS", "200"))
SOAK_SECONDS = float(os.environ.get("PROCTOR_SOAK_SECONDS", "120"))
HEARTBEAT_S = 2.0  # faster than the reference clients' 5 s: more to lose
WITHIN = 180.0  # every wait is bounded; the machine is small and shared


async def _run_fleet(cluster: ClusterProcess, pool: asyncpg.Pool, settings: Settings, n: int) -> tuple[list[int], Fleet]:  # fmt: skip
    attempts = await running_attempts(pool, settings, n)
    fleet = fleet_of(cluster.ws_url, settings, attempts)
    fleet.start(HEARTBEAT_S)
    await eventually(fleet.all_connected, within=WITHIN)
    fleet.mark()
    await eventually(fleet.all_resumed, within=WITHIN)  # every device acknowledged once
    return attempts, fleet


def _leave_and_return(fleet: Fleet, skip: frozenset[int] = frozenset()) -> None:
    """Every PC leaves the page and comes back: one violation each (rule E3)."""
    for pc in fleet.pcs():
        if pc.attempt_id not in skip and not pc.tally.ended:
            pc.send({"type": "focus", "state": "lost", "cause": "blur"})
            pc.send({"type": "focus", "state": "back"})


async def _settle(pool: asyncpg.Pool, fleet: Fleet) -> Comparison:
    """Stop new messages, wait until every outbox is acknowledged, then until
    PostgreSQL holds every acknowledged heartbeat (the worker copies later)."""
    fleet.stop_sending()
    await eventually(fleet.drained, within=WITHIN)
    await fleet.stop()
    last: list[Comparison] = []

    async def copied() -> bool:
        last[:] = [await compare(pool, fleet)]
        return not last[0].missing

    try:
        await eventually(copied, within=WITHIN)
    finally:
        print(last[0].line("found") if last else "nothing compared")
    return last[0]


def _no_loss(result: Comparison) -> None:
    assert result.missing == ()
    assert result.found_heartbeats == result.acked_heartbeats
    assert result.duplicated == 0
    # every acknowledged violation once, no more: the ledger and the count agree
    assert result.acked_violations == result.found_violations == result.counted_violations


async def test_a_web_process_killed_under_live_sessions_loses_nothing(
    cluster: ClusterProcess, pool: asyncpg.Pool, cluster_settings: Settings
) -> None:
    attempts, fleet = await _run_fleet(cluster, pool, cluster_settings, SESSIONS)
    _leave_and_return(fleet)
    fleet.mark()
    await eventually(fleet.all_resumed, within=WITHIN)
    spread = fleet.by_server()
    victim = max(spread, key=lambda name: spread[name])
    print(f"{SESSIONS} sessions, sockets by process {spread}; kill -9 {victim}")
    cluster.kill_9(victim)
    timed = attempts[:10]
    await end_at_deadline_now(pool, timed)  # the scheduler must still end them (rule E4)
    fleet.mark()
    _leave_and_return(fleet, skip=frozenset(timed))
    await eventually(fleet.all_resumed, within=WITHIN)  # every client resumed elsewhere
    moved = sum(1 for d in fleet.devices if d.tally.connects > 1)
    await eventually(lambda: cluster.member_ready(victim), within=WITHIN)  # restarted
    result = await _settle(pool, fleet)
    print(
        f"kill -9 {victim}: {moved} devices reconnected through HAProxy; "
        + result.line("acknowledged vs found")
        + f"; ended at their deadline {result.timed_out} of {len(timed)}"
    )
    _no_loss(result)
    assert moved >= spread[victim]
    assert result.timed_out == len(timed)


async def _pending(cluster: ClusterProcess, attempts: list[int]) -> list[tuple[int, str]]:
    """Stream entries read by a persistence worker and not acknowledged yet:
    (attempt, stream id)."""
    keys = Keys("proctor")
    redis = cluster.redis()
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for attempt_id in attempts:
                pipe.xpending_range(keys.events(attempt_id), PERSIST_GROUP, "-", "+", 10_000)
            replies = await pipe.execute(raise_on_error=False)
    finally:
        await redis.aclose()
    return [
        (attempt_id, _text(entry["message_id"]))
        for attempt_id, reply in zip(attempts, replies, strict=True)
        if isinstance(reply, list)
        for entry in reply
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _unwritten(pool: asyncpg.Pool, entries: list[tuple[int, str]]) -> int:
    """How many of ``entries`` are not in attempt_events yet."""
    async with pool.acquire() as conn:
        written = await conn.fetchval(
            """SELECT count(*) FROM attempt_events e
                 JOIN unnest($1::bigint[], $2::text[]) AS p(attempt_id, stream_id)
                   ON e.attempt_id = p.attempt_id AND e.stream_id = p.stream_id""",
            [a for a, _ in entries],
            [i for _, i in entries],
        )
    return len(entries) - int(written)


async def test_the_persistence_worker_killed_between_read_and_write_loses_nothing(
    cluster: ClusterProcess, pool: asyncpg.Pool, cluster_settings: Settings
) -> None:
    attempts, fleet = await _run_fleet(cluster, pool, cluster_settings, SESSIONS)
    pending: list[tuple[int, str]] = []
    unwritten = kills = 0
    for _ in range(400):  # until a kill lands after a read and before its rows are written
        if not await _pending(cluster, attempts):
            continue
        victim = cluster.pid_of("persist-1")
        os.kill(victim, signal.SIGKILL)
        kills += 1
        await eventually(lambda pid=victim: _gone(pid), within=30)
        pending = await _pending(cluster, attempts)  # frozen: their reader is dead
        unwritten = await _unwritten(pool, pending) if pending else 0
        if unwritten:
            break
        await eventually(lambda: cluster.member_ready("persist-1"), within=WITHIN)
    print(
        f"kill -9 persist-1 ({kills} kills): {len(pending)} entries read and not acknowledged, "
        f"{unwritten} of them not in PostgreSQL"
    )
    assert unwritten > 0
    await eventually(lambda: cluster.member_ready("persist-1"), within=WITHIN)
    # the restarted worker (another consumer) claims the dead one's entries once
    # they are 30 s idle (hub/persist.py CLAIM_IDLE_S), writes and acknowledges them
    result = await _settle(pool, fleet)
    print(result.line("kill -9 persist-1: acknowledged vs found"))
    _no_loss(result)
    assert not await _pending(cluster, attempts)


async def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


async def _readyz(cluster: ClusterProcess, name: str) -> tuple[int, str]:
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            answer = await http.get(f"{cluster.member_url(name)}/readyz")
            return answer.status_code, answer.text
    except httpx.TransportError as exc:
        return 0, str(exc)


def _redis_pid(cluster: ClusterProcess) -> int:
    for proc in embedded_processes(cluster.data_dir):
        if "redis-server" in " ".join(proc.cmdline()):
            return int(proc.pid)
    raise AssertionError("no embedded redis-server")


def _server_processes(cluster: ClusterProcess, server: str) -> list[psutil.Process]:
    """The embedded server's processes, its main process first."""
    if server == "postgres":
        main = pid_in(cluster.data_dir / "pg" / "postmaster.pid")
        assert main is not None
        postmaster = psutil.Process(main)
        return [postmaster, *postmaster.children(recursive=True)]  # and its backends
    return [psutil.Process(_redis_pid(cluster))]


async def test_postgres_and_redis_hung_then_killed_lose_nothing_acknowledged(
    cluster: ClusterProcess, pool: asyncpg.Pool, cluster_settings: Settings
) -> None:
    _, fleet = await _run_fleet(cluster, pool, cluster_settings, SESSIONS)
    before = cluster.output()
    for server in ("postgres", "redis"):
        _leave_and_return(fleet)  # violations need PostgreSQL before their ack
        procs = _server_processes(cluster, server)
        # Hung first (SIGSTOP: the supervisor still sees it running), so the
        # outage lasts until /readyz has said so; then killed, and restarted.
        for proc in procs:
            proc.suspend()

        seen: list[tuple[int, str]] = []

        async def not_ready(server: str = server, seen: list[tuple[int, str]] = seen) -> bool:
            seen[:] = [await _readyz(cluster, "web-1")]
            return seen[0][0] == 503 and f'"{server}":"error' in seen[0][1]

        try:
            await eventually(not_ready, within=WITHIN)
        finally:
            print(f"{server} hung: web-1 /readyz answered {seen}")
        procs[0].kill()
        for proc in procs[1:]:  # backends of a dead postmaster exit once they run
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.resume()

        async def ready() -> bool:
            return (await _readyz(cluster, "web-1"))[0] == 200

        await eventually(ready, within=WITHIN)  # the supervisor brought it back
        fleet.mark()
        await eventually(fleet.all_resumed, within=WITHIN)  # acknowledgements resumed
    result = await _settle(pool, fleet)
    print(result.line("postgres and redis hung, killed, back: acknowledged vs found"))
    _no_loss(result)
    said = cluster.output()[len(before) :]
    for server in ("postgres", "redis"):
        # the log says what happened, once
        assert len(re.findall(f"embedded {server} is down; restarting it", said)) == 1, said
        assert len(re.findall(f"embedded {server} is up again", said)) == 1, said


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def _sample(cluster: ClusterProcess, attempts: list[int]) -> dict[str, float]:
    """RSS, open files and asyncio tasks of every proctor process, Redis' memory."""
    figures: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=5) as http:
        for name in cluster.members:
            proc = psutil.Process(cluster.pid_of(name))
            figures[f"{name}.rss_mb"] = proc.memory_info().rss / 2**20
            figures[f"{name}.fds"] = proc.num_fds()
            text = (await http.get(f"{cluster.member_url(name)}/metrics")).text
            figures[f"{name}.tasks"] = _metric(text, "proctor_asyncio_tasks")
    redis = cluster.redis()
    try:
        info = await redis.info("memory")
        figures["redis.used_mb"] = float(info["used_memory"]) / 2**20
        keys = Keys("proctor")
        async with redis.pipeline(transaction=False) as pipe:
            for attempt_id in attempts:
                pipe.xlen(keys.events(attempt_id))
            figures["redis.stream_entries"] = float(sum(await pipe.execute()))
    finally:
        await redis.aclose()
    return figures


async def test_a_soak_keeps_memory_files_and_tasks_flat(
    cluster: ClusterProcess, pool: asyncpg.Pool, cluster_settings: Settings
) -> None:
    attempts, fleet = await _run_fleet(cluster, pool, cluster_settings, SOAK_SESSIONS)
    samples = []
    loop = asyncio.get_running_loop()
    end = loop.time() + SOAK_SECONDS
    while loop.time() < end:
        samples.append(await _sample(cluster, attempts))
        await asyncio.sleep(min(10.0, SOAK_SECONDS / 6))
    samples.append(await _sample(cluster, attempts))
    result = await _settle(pool, fleet)
    print(result.line(f"soak {SOAK_SECONDS:.0f}s, {SOAK_SESSIONS} sessions: acknowledged vs found"))
    _no_loss(result)
    third = max(1, len(samples) // 3)
    first, last = samples[:third], samples[-third:]
    for key in samples[0]:
        a = statistics.mean(s[key] for s in first)
        b = statistics.mean(s[key] for s in last)
        print(f"  {key:<28} first third {a:10.1f}  last third {b:10.1f}")
        if key.endswith(".rss_mb"):
            assert b <= a * 1.15 + 20, key
        elif key.endswith(".fds") or key.endswith(".tasks"):
            assert b <= a * 1.05 + 10, key
    # Redis flat (issue #10): each stream is trimmed to what PostgreSQL may lack
    # after every persistence pass (hub/trim.py), so what Redis holds follows the
    # sessions, not the time they have run
    a_mb = statistics.mean(s["redis.used_mb"] for s in first)
    b_mb = statistics.mean(s["redis.used_mb"] for s in last)
    left = statistics.mean(s["redis.stream_entries"] for s in last)
    print(
        f"  redis: {a_mb:.2f} MiB → {b_mb:.2f} MiB; {left:.0f} stream entries held on average"
        f" at the end (not yet persisted) for {result.acked_heartbeats} acknowledged heartbeats"
    )
    assert b_mb <= a_mb * 1.10 + 2, "Redis memory grew"
    # a pass's worth at most: each device sends a heartbeat every 2 s
    assert left <= 4 * SOAK_SESSIONS, "streams are not trimmed"
