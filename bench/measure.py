"""Process measurements shared by the benchmarks (Linux /proc)."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def children_cpu_seconds(pid: int) -> float:
    """CPU time of a server and its worker processes (PostgreSQL's backends):
    its own, its reaped children's, and that of its children still alive."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(stat[1]) == pid:
            total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return total


def loadavg() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages (other work beside a run)."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def role_cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each role's processes (role → pids); PostgreSQL
    (``pg``) with its backends."""
    return {
        role: sum((children_cpu_seconds if role == "pg" else cpu_seconds)(p) for p in group)
        for role, group in pids.items()
    }


def rss_mib(pid: int) -> float:
    return rss_kib(pid) / 1024


def sorted_percentile(ordered: list[float], pct: float) -> float | None:
    """The video benchmark's percentile: ``ordered`` already sorted, ``pct``
    in 0–100, nearest rank; None (null in its JSON) when there is none."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]
