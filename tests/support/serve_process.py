"""``proctor serve`` as a subprocess on a data folder of its own, as a user runs
it, and the embedded servers it leaves (or does not leave) behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs installed

from tests.support.live import free_port
from tests.support.waits import eventually


def embedded_processes(data_dir: Path) -> list[psutil.Process]:
    """Living (not zombie) postgres and redis-server processes of ``data_dir``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if str(data_dir) in cmd and ("postgres" in cmd or "redis-server" in cmd):
            found.append(proc)
    return found


def pid_in(path: Path) -> int | None:
    """The pid on the first line of a pid file (``postmaster.pid``, ``redis.pid``)."""
    try:
        return int(path.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@dataclass
class Serve:
    """One ``proctor serve --demo`` process."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def postmaster_pid(self) -> int | None:
        return pid_in(self.data_dir / "pg" / "postmaster.pid")

    @property
    def redis_pid(self) -> int | None:
        """Found by its process title (it names the socket in the data folder)."""
        for proc in embedded_processes(self.data_dir):
            if "redis-server" in " ".join(proc.cmdline()):
                return int(proc.pid)
        return None

    async def ready(self) -> bool:
        """Whether /readyz answers 200 (an error if the process is gone)."""
        if self.proc.poll() is not None:
            raise AssertionError(f"proctor serve exited with {self.proc.returncode}")
        try:
            async with httpx.AsyncClient(base_url=self.base, timeout=3) as http:
                return (await http.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    async def wait_ready(self, within: float = 60) -> None:
        await eventually(self.ready, within=within)

    async def kill_9(self) -> None:
        self.proc.kill()
        await asyncio.to_thread(self.proc.wait, 10)

    async def terminate(self) -> str:
        """SIGTERM and wait; returns the output. The exit code must be 0."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(self.proc.communicate, timeout=60)
        text = out.decode(errors="replace")
        assert self.proc.returncode == 0, text[-3000:]
        return text


def start_serve(data_dir: Path, port: int | None = None) -> Serve:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCTOR_")}
    env |= {"PROCTOR_DATA_DIR": str(data_dir), "PROCTOR_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "proctor.cli", "serve", "--demo", "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return Serve(data_dir=data_dir, port=port, proc=proc)


async def nothing_left(data_dir: Path, within: float = 30) -> None:
    """Wait until no embedded server of ``data_dir`` runs (fails after ``within``)."""

    async def gone() -> bool:
        return not embedded_processes(data_dir)

    await eventually(gone, within=within)
