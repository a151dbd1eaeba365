"""Fixtures of the tests that run ``proctor serve`` as a subprocess."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.serve_process import embedded_processes


@pytest.fixture
async def data_dir() -> AsyncIterator[Path]:
    """A data folder outside pytest's basetemp: as root, PostgreSQL runs as a
    system user that must traverse the path, and any pytest run on the machine
    resets ``/tmp/pytest-of-root`` to mode 700. Short, too: redis' socket path
    must stay under ~100 bytes to live in the folder."""
    path = Path(tempfile.mkdtemp(prefix="proctor-recovery-"))
    path.chmod(0o755)
    yield path / "d"
    for proc in embedded_processes(path):  # whatever a failed test left behind
        proc.kill()
    shutil.rmtree(path, ignore_errors=True)
