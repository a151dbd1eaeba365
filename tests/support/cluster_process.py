"""``proctor cluster`` as a subprocess on a data folder of its own (loopback
ports), as an operator runs it: its members found by the banner it prints,
the embedded servers it shares, and ways to kill one of its processes."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import asyncpg
import psutil  # type: ignore[import-untyped]  # no stubs installed
from redis.asyncio import Redis

from proctor.cluster import free_ports
from proctor.db import create_pool
from proctor.settings import Settings, load_settings
from tests.support.waits import eventually

_MEMBER = re.compile(r"^  (\S+)\s+(web|persist|scheduler)\s+http://[\d.]+:(\d+)$", re.M)
_REDIS = re.compile(r"embedded Redis ready at (unix://\S+)")
STARTED = "Proctor cluster on "


@dataclass
class ClusterProcess:
    """One ``proctor cluster`` process and what it printed (in ``log_path``)."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]
    members: dict[str, int] = field(default_factory=dict)  # name → port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def member_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.members[name]}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres:@/postgres?host={self.data_dir / 'pg'}"

    @property
    def redis_url(self) -> str:
        found = _REDIS.search(self.output())
        assert found, "the cluster logged no embedded Redis"
        return found.group(1)

    def settings(self) -> Settings:
        """The cluster's settings as its processes read them (the same secret key)."""
        return load_settings({"PROCTOR_DATA_DIR": str(self.data_dir)})

    async def pool(self, max_size: int = 10) -> asyncpg.Pool:
        return await create_pool(self.database_url, min_size=1, max_size=max_size)

    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url)

    async def wait_started(self, within: float = 300) -> None:
        """Until the banner with the one URL is printed (an error if the command exited)."""

        async def started() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"proctor cluster exited with {self.proc.returncode}:\n{self.output()[-5000:]}"
                )
            return STARTED in self.output()

        await eventually(started, within=within)
        self.members = {name: int(port) for name, _, port in _MEMBER.findall(self.output())}

    def pid_of(self, name: str) -> int:
        """The pid of a member now (``haproxy`` or a name of the banner)."""
        for child in psutil.Process(self.proc.pid).children():
            cmd = child.cmdline()
            if name == "haproxy" and "haproxy" in cmd[0]:
                return int(child.pid)
            if name != "haproxy" and "--port" in cmd:
                if int(cmd[cmd.index("--port") + 1]) == self.members[name]:
                    return int(child.pid)
        raise AssertionError(f"no running {name}")

    def kill_9(self, name: str) -> int:
        """SIGKILL one member; returns the pid killed (the cluster restarts it)."""
        pid = self.pid_of(name)
        os.kill(pid, signal.SIGKILL)
        return pid

    async def member_ready(self, name: str) -> bool:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=3) as http:
                return (await http.get(f"{self.member_url(name)}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    def process_ids(self) -> list[int]:
        """The cluster and every process under it, now."""
        root = psutil.Process(self.proc.pid)
        return [root.pid, *(p.pid for p in root.children(recursive=True))]

    async def terminate(self) -> str:
        """SIGTERM and wait; returns the output. The exit code must be 0."""
        self.proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(self.proc.wait, 120)
        self._log.close()
        text = self.output()
        assert self.proc.returncode == 0, text[-5000:]
        return text

    def kill_all(self) -> None:
        """After a failed test: nothing of this cluster left running."""
        if self.proc.poll() is None:
            for pid in reversed(self.process_ids()):
                try:
                    psutil.Process(pid).kill()
                except psutil.NoSuchProcess:
                    pass
            self.proc.wait(30)
        self._log.close()


def start_cluster(
    data_dir: Path, hubs: int = 3, schedulers: int = 1, env: dict[str, str] | None = None
) -> ClusterProcess:
    """Start ``proctor cluster`` on free loopback ports; ``wait_started()`` next."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # Below the ephemeral range (32768 on): a port the plan found free is not
    # taken meanwhile by some process's outgoing connection.
    first = random.randrange(20_000, 32_000, 16)
    port = next(free_ports("127.0.0.1", first))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROCTOR_")}
    # as the shared test settings: the tests' candidates have no ID photo (rule I2 off)
    clean |= {"PROCTOR_DATA_DIR": str(data_dir), "PROCTOR_FACE_CHECK": "off", **(env or {})}
    log_path = data_dir.parent / f"{data_dir.name}-cluster.log"
    log = log_path.open("wb")
    args = [sys.executable, "-m", "proctor.cli", "cluster", "--hubs", str(hubs)]
    args += ["--schedulers", str(schedulers), "--port", str(port)]
    args += ["--first-port", str(port + 1), "--log-level", "warning"]
    proc = subprocess.Popen(args, env=clean, stdout=log, stderr=subprocess.STDOUT)
    return ClusterProcess(data_dir=data_dir, port=port, proc=proc, log_path=log_path, _log=log)


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (zombies are not)."""
    living = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                living.append(pid)
        except psutil.NoSuchProcess:
            pass
    return living
