"""What a dead serve leaves in the data folder is recognised, not guessed from a
pid alone (issue #9). Real processes, no PostgreSQL needed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs installed
import pytest

from proctor.embedded import redis_server_binary
from proctor.stale import (
    CLOCK_SLACK_S,
    HANDLE_FILE,
    StaleServerInUse,
    clear_stale_postgres,
    clear_stale_redis,
    live_handles,
)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_handles_of_dead_and_of_reused_pids_are_not_alive(tmp_path: Path) -> None:
    # the file's last write is placed between this process's start and
    # `younger`'s, beyond the clock slack on each side, from the start times
    # psutil reads (not from how fast the machine happens to be)
    own = psutil.Process().create_time()
    gap = 2 * CLOCK_SLACK_S + 1.0
    time.sleep(max(0.0, own + gap - time.time()))
    younger = subprocess.Popen(["sleep", "60"])
    try:
        handles = tmp_path / HANDLE_FILE
        # `younger` only reuses the pid of a handle written before it existed
        handles.write_text(json.dumps([os.getpid(), _dead_pid(), younger.pid]))
        born = psutil.Process(younger.pid).create_time()
        assert born - own >= gap - 0.01
        written = (own + born) / 2
        os.utime(handles, (written, written))
        assert live_handles(tmp_path) == [os.getpid()]
    finally:
        younger.kill()
        younger.wait()


def test_a_postmaster_pid_naming_another_process_is_removed(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    (tmp_path / "postmaster.pid").write_text(f"{sleeper.pid}\n{tmp_path}\n")
    (tmp_path / HANDLE_FILE).write_text(json.dumps([_dead_pid()]))
    clear_stale_postgres(tmp_path)
    assert not (tmp_path / "postmaster.pid").exists()
    assert sleeper.poll() is None  # not a postgres: never signalled
    assert json.loads((tmp_path / HANDLE_FILE).read_text()) == []


def _redis(workdir: Path) -> subprocess.Popen[bytes]:
    sock, pidfile = workdir / "r.sock", workdir / "redis.pid"
    proc = subprocess.Popen(
        [
            *(str(redis_server_binary()), "--port", "0", "--unixsocket", str(sock)),
            *("--pidfile", str(pidfile), "--dir", str(workdir), "--save", ""),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and sock.exists()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    return proc


def test_a_redis_whose_owner_died_is_stopped(tmp_path: Path) -> None:
    redis = _redis(tmp_path)
    try:
        owner = tmp_path / "owner.json"
        owner.write_text(json.dumps({"pid": _dead_pid(), "created": 0.0}))
        clear_stale_redis(tmp_path / "redis.pid", owner)
        assert redis.wait(5) is not None
        assert not (tmp_path / "redis.pid").exists()
    finally:
        redis.kill()
        redis.wait()


def test_a_redis_whose_owner_lives_is_left_alone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    redis = _redis(tmp_path)
    try:
        owner = tmp_path / "owner.json"
        created = psutil.Process(sleeper.pid).create_time()
        owner.write_text(json.dumps({"pid": sleeper.pid, "created": created}))
        with pytest.raises(StaleServerInUse):
            clear_stale_redis(tmp_path / "redis.pid", owner)
        assert redis.poll() is None
    finally:
        redis.kill()
        redis.wait()


def test_a_pid_file_of_a_dead_redis_is_removed(tmp_path: Path) -> None:
    pidfile = tmp_path / "redis.pid"
    pidfile.write_text(f"{_dead_pid()}\n")
    clear_stale_redis(pidfile, tmp_path / "owner.json")
    assert not pidfile.exists()
