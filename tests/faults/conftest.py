"""Fixtures of the fault tests: ``proctor cluster`` (three web processes, the
persistence worker, the scheduler, HAProxy, embedded PostgreSQL and Redis on
loopback ports), one per test module, and a pool and settings of it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from proctor.settings import Settings
from tests.support.cluster_process import ClusterProcess, start_cluster
from tests.support.serve_process import embedded_processes


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[ClusterProcess]:
    root = Path(tempfile.mkdtemp(prefix="proctor-faults-"))
    root.chmod(0o755)  # PostgreSQL runs as a system user that must traverse it
    running = start_cluster(root / "d", hubs=3)
    try:
        await running.wait_started()
        yield running
        await running.terminate()
    finally:
        running.kill_all()
        print(_log_lines(running.output()))
        for proc in embedded_processes(root):
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
async def pool(cluster: ClusterProcess) -> AsyncIterator[asyncpg.Pool]:
    pool = await cluster.pool(max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def cluster_settings(cluster: ClusterProcess) -> Settings:
    return cluster.settings()


def _log_lines(text: str) -> str:
    """What the cluster said about processes and servers (the rest is noise here)."""
    keep = ("is down", "is up again", "gave up", "unavailable", "Proctor cluster")
    return "\n".join(line for line in text.splitlines() if any(k in line for k in keep))
