"""Running the Node tests of tests/js/ from pytest (rule 10: real servers, no fakes but Recording*)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = ROOT / "tests" / "js"
NODE_TIMEOUT_S = 120.0


def ensure_node() -> str:
    """The node binary, with tests/js's pinned packages installed (npm ci)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure-node-deps.sh")], check=True)
    return node


async def node_test(files: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """``node --test <files>`` in tests/js without blocking the event loop
    (the live server runs in it); returns the exit code and the output."""
    node = ensure_node()
    proc = await asyncio.create_subprocess_exec(
        node,
        "--test",
        "--test-reporter=spec",
        *files,
        cwd=JS_TESTS,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), NODE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")
