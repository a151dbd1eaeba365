"""A Redis Cluster of three masters on loopback ports, from the bundled binary.

The test harness (``PROCTOR_TEST_REDIS_CLUSTER=1``, ``make test-cluster``)
runs the hub against a real cluster with this: three ``redis-server``
processes started with ``--cluster-enabled yes`` on free loopback ports, the
16384 slots spread over them by the bundled ``redis-cli --cluster create``,
and ``start()`` returns once every node says ``cluster_state:ok`` and knows
all three. The URL it returns is the first node's; a cluster client finds
the others from it (``proctor/redis_client.py``).

Every node keeps an append-only file like the single embedded server, and
stops with its parent (``PR_SET_PDEATHSIG``), so a killed test run leaves no
server behind.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from proctor.embedded import EmbeddedError, die_with_parent, redis_server_binary

log = logging.getLogger(__name__)

MASTERS = 3
CLUSTER_BUS_OFFSET = 10_000  # Redis' cluster bus listens on port + 10000
START_TIMEOUT_S = 30.0


def redis_cli_binary() -> Path:
    return redis_server_binary().with_name("redis-cli")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, low: int = 20_000, high: int = 50_000) -> list[int]:
    """``count`` loopback ports that are free, each with its cluster bus
    port (``+10000``) free too. Another process may take one before the
    server binds it; the server then fails to start and says so."""
    ports: list[int] = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as seed:
        seed.bind(("127.0.0.1", 0))
        start = low + seed.getsockname()[1] % (high - low)
    candidate = start
    while len(ports) < count:
        candidate = low + (candidate - low + 1) % (high - low)
        if candidate == start:
            raise EmbeddedError("no free loopback ports for a Redis Cluster")
        if _port_free(candidate) and _port_free(candidate + CLUSTER_BUS_OFFSET):
            ports.append(candidate)
    return ports


@dataclass
class EmbeddedRedisCluster:
    """Three cluster masters in ``<data_dir>/redis-cluster/<port>``:
    ``start()`` returns ``redis://127.0.0.1:<first port>``."""

    data_dir: Path
    masters: int = MASTERS
    name: str = field(default="redis-cluster", init=False)
    ports: list[int] = field(default_factory=list, init=False)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False)

    @property
    def workdir(self) -> Path:
        return self.data_dir / "redis-cluster"

    @property
    def url(self) -> str:
        assert self.ports, "the cluster is not started"
        return f"redis://127.0.0.1:{self.ports[0]}"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        assert not self._procs, "started already"
        self.ports = free_ports(self.masters)
        deadline = time.monotonic() + timeout_s
        try:
            for port in self.ports:
                self._procs.append(self._spawn(port))
            for port in self.ports:
                self._wait_for(port, "PONG", ["PING"], deadline)
            self._create()
            for port in self.ports:
                self._wait_for(port, "cluster_state:ok", ["CLUSTER", "INFO"], deadline)
                self._wait_for(
                    port, f"cluster_known_nodes:{self.masters}", ["CLUSTER", "INFO"], deadline
                )
        except BaseException:
            self.stop()
            raise
        log.info("embedded Redis Cluster ready at %s", ", ".join(map(str, self.ports)))
        return self.url

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        folder = self.workdir / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        args = [
            str(redis_server_binary()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(folder / "nodes.conf"),
            "--cluster-node-timeout",
            "5000",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            str(folder / "redis.log"),
            "--daemonize",
            "no",
        ]
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def _cli(self, port: int, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(redis_cli_binary()), "-h", "127.0.0.1", "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )

    def _create(self) -> None:
        """Spread the slots over the masters (no replicas)."""
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        done = self._cli(
            self.ports[0], "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"
        )
        if done.returncode != 0 or "[OK] All 16384 slots covered" not in done.stdout:
            raise EmbeddedError(f"redis-cli --cluster create failed: {done.stdout}{done.stderr}")

    def _wait_for(self, port: int, text: str, command: list[str], deadline: float) -> None:
        while True:
            self._check_alive()
            if text in self._cli(port, *command).stdout:
                return
            if time.monotonic() > deadline:
                log_file = self.workdir / str(port) / "redis.log"
                raise EmbeddedError(f"Redis Cluster node {port} not ready; see {log_file}")
            time.sleep(0.1)

    def _check_alive(self) -> None:
        for port, proc in zip(self.ports, self._procs, strict=False):
            if proc.poll() is not None:
                log_file = self.workdir / str(port) / "redis.log"
                raise EmbeddedError(
                    f"redis-server {port} exited with {proc.returncode}; see {log_file}"
                )

    def is_running(self) -> bool:
        return bool(self._procs) and all(proc.poll() is None for proc in self._procs)

    def stop(self) -> None:
        procs, self._procs = self._procs, []
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
