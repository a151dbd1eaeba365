"""The processes a benchmark runs against: embedded PostgreSQL and Redis in a
temporary folder, ``proctor serve --role …`` and bench/hub_servers.py
processes, waiting for their ports, stopping them.

    with bench_services("hub_load_", redis_prefix="bench123") as bench:
        worker = bench.add(serve_role("worker", port, bench.env))
        await wait_port(port, worker)

Whatever is still running when the block ends is killed, then the services
stop and the folder goes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET_KEY = "bench-secret-key-0123456789"

Process = subprocess.Popen[bytes]


@dataclass
class BenchServices:
    """The embedded services of one run, the environment the servers get, and
    the server processes started (killed at the end if still running)."""

    services: Any  # proctor.embedded.Services
    env: dict[str, str]
    tmp: Path
    procs: list[Process] = field(default_factory=list)

    def add(self, proc: Process) -> Process:
        self.procs.append(proc)
        return proc

    def service_pids(self) -> dict[str, int]:
        """role → pid of the embedded Redis and PostgreSQL (the postmaster),
        those that run here (none for a service given by URL)."""
        pids: dict[str, int] = {}
        services = self.services
        if services.redis is not None and services.redis._proc is not None:
            pids["redis"] = services.redis._proc.pid
        if services.postgres is not None:
            pidfile = services.postgres.pgdata / "postmaster.pid"
            pids["pg"] = int(pidfile.read_text().split()[0])
        return pids


@contextmanager
def bench_services(
    tmp_prefix: str, redis_prefix: str, extra_env: dict[str, str] | None = None
) -> Iterator[BenchServices]:
    """Embedded PostgreSQL and Redis in a temporary folder, unless
    PROCTOR_DATABASE_URL / PROCTOR_REDIS_URL are set, and the environment of
    the servers started against them (``extra_env`` added)."""
    from proctor.embedded import start_services

    tmp = Path(tempfile.mkdtemp(prefix=tmp_prefix))
    services = start_services(
        os.environ.get("PROCTOR_DATABASE_URL"), os.environ.get("PROCTOR_REDIS_URL"), tmp
    )
    env = {
        **os.environ,
        "PROCTOR_DATABASE_URL": services.database_url,
        "PROCTOR_REDIS_URL": services.redis_url,
        "PROCTOR_DATA_DIR": str(tmp / "data"),
        "PROCTOR_REDIS_PREFIX": redis_prefix,
        "PROCTOR_SECRET_KEY": BENCH_SECRET_KEY,
        **(extra_env or {}),
    }
    bench = BenchServices(services, env, tmp)
    try:
        yield bench
    finally:
        for proc in bench.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        services.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def serve_role(role: str, port: int, env: dict[str, str], quiet: bool = False) -> Process:
    """``proctor serve --role ROLE`` as deployed; ``quiet``: its stdout dropped."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "proctor.cli",
            "serve",
            "--role",
            role,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL if quiet else None,
    )


def spawn_hub_server(args: list[str], env: dict[str, str]) -> Process:
    """A hub or echo server (bench/hub_servers.py) in a process of its own."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "hub_servers.py"), *args], env=env
    )


async def wait_port(port: int, proc: Process, within: float = 60) -> None:
    """Until ``port`` accepts connections; an error if ``proc`` exits first."""
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


def stop_all(procs: Iterable[Process], timeout: float) -> None:
    """SIGTERM to all, then each waited for up to ``timeout`` s, killed if not gone."""
    procs = list(procs)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
