"""``proctor serve`` after crashes (issue #9): a serve killed with SIGKILL must
not leave the next one an orphaned PostgreSQL that no clean stop ever stops,
and an embedded server killed under a running serve comes back by itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.serve_process import (
    Serve,
    alive,
    nothing_left,
    start_serve,
)
from tests.support.waits import eventually


async def _stopped(serve: Serve) -> None:
    """Kill a serve a failed test left running; print its output (pytest shows
    it with the failure)."""
    if serve.proc.poll() is None:
        serve.proc.kill()
    try:
        out, _ = serve.proc.communicate(timeout=10)
    except (subprocess.TimeoutExpired, ValueError):
        return
    print(out.decode(errors="replace")[-5000:])


def _pid_of(serve: Serve, server: str) -> int | None:
    return serve.redis_pid if server == "redis" else serve.postmaster_pid


async def test_serve_after_a_kill_9_starts_and_stops_clean(data_dir: Path) -> None:
    first = start_serve(data_dir)
    try:
        await first.wait_ready()
        orphan = first.postmaster_pid
        await first.kill_9()
    finally:
        await _stopped(first)
    # the precondition of the attack: the dead serve's PostgreSQL still runs
    assert alive(orphan), "the embedded PostgreSQL should outlive a SIGKILLed serve"

    second = start_serve(data_dir)
    try:
        await second.wait_ready()
        # the orphan was stopped, not adopted: this serve started its own
        assert not alive(orphan)
        assert alive(second.postmaster_pid)
        out = await second.terminate()
    finally:
        await _stopped(second)
    assert "embedded services stopped" in out
    # a clean stop now leaves no postgres and no redis-server running
    await nothing_left(data_dir)


async def test_killed_embedded_servers_come_back_by_themselves(data_dir: Path) -> None:
    serve = start_serve(data_dir)
    try:
        await serve.wait_ready()
        for server in ("redis", "postgres"):
            killed = _pid_of(serve, server)
            assert killed is not None and alive(killed)
            subprocess.run(["kill", "-9", str(killed)], check=True)

            async def replaced(server: str = server, killed: int = killed) -> bool:
                new = _pid_of(serve, server)
                return new is not None and new != killed and alive(new)

            await eventually(replaced, within=60)
            await serve.wait_ready(within=60)  # /readyz 200 with no one acting
        out = await serve.terminate()
    finally:
        await _stopped(serve)
    assert "is down; restarting it" in out and "is up again" in out
    await nothing_left(data_dir)
