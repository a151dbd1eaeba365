"""``proctor cluster``: the multi-process deployment on one machine (rule H8).

N web processes (``proctor serve --role web``), the persistence worker
(``--role persist``), the scheduler (``--role scheduler``, safe to run
twice) and HAProxy in front of the web processes, all on the same
PostgreSQL and Redis: the ones configured by URL, else the embedded ones,
started once here and shared by every process. The same processes,
configured by URL, are what runs on many machines (``deploy/``,
``docs/deployment.md``).

``plan`` and ``haproxy_config`` are pure (what runs where, the load
balancer's configuration); ``Member`` is one child process as the
supervisor sees it (``proctor/supervisor.py`` restarts a dead one, with the
same back-off as the embedded servers); ``run`` starts everything, prints
the one URL and stops everything on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import httpx

from proctor.embedded import Services, die_with_parent
from proctor.supervisor import Supervisor

log = logging.getLogger(__name__)

HAPROXY_TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


class ClusterError(RuntimeError):
    """The cluster could not start; the message says which process and why."""


@dataclass(frozen=True)
class Spec:
    """One process of the cluster: ``role`` is a ``proctor serve --role``, or ``haproxy``."""

    name: str
    role: str
    port: int


@dataclass(frozen=True)
class Plan:
    host: str  # where HAProxy listens (the one URL)
    port: int
    member_host: str  # where the proctor processes listen (loopback by default)
    members: tuple[Spec, ...]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def webs(self) -> tuple[Spec, ...]:
        return tuple(m for m in self.members if m.role == "web")

    def member_url(self, spec: Spec) -> str:
        return f"http://{self.member_host}:{spec.port}"


def plan(
    *,
    host: str,
    port: int,
    member_host: str,
    ports: Iterator[int],
    hubs: int,
    persisters: int = 1,
    schedulers: int = 1,
) -> Plan:
    """What runs where: ``hubs`` web processes, then the workers, each on the
    next port ``ports`` yields."""
    if hubs < 1:
        raise ClusterError("a cluster needs at least one web process")
    if persisters < 1 or schedulers < 1:
        raise ClusterError("a cluster needs a persistence worker and a scheduler")
    roles = [("web", hubs), ("persist", persisters), ("scheduler", schedulers)]
    members = tuple(
        Spec(f"{role}-{i}", role, next(ports)) for role, count in roles for i in range(1, count + 1)
    )
    return Plan(host=host, port=port, member_host=member_host, members=members)


def free_ports(host: str, first: int, taken: Sequence[int] = ()) -> Iterator[int]:
    """Ports from ``first`` on that can be bound now on ``host`` (and are not in ``taken``)."""
    candidate = first
    while candidate < 65536:
        if candidate not in taken and _bindable(host, candidate):
            yield candidate
        candidate += 1
    raise ClusterError(f"no free port from {first} on")


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def haproxy_config(the_plan: Plan, admin_socket: Path, template: str | None = None) -> str:
    """``deploy/haproxy.cfg`` filled in for this plan."""
    text = template if template is not None else HAPROXY_TEMPLATE.read_text(encoding="utf-8")
    servers = "\n".join(
        f"    server {m.name} {the_plan.member_host}:{m.port}" for m in the_plan.webs
    )
    return Template(text).substitute(
        bind=f"{the_plan.host}:{the_plan.port}", servers=servers, admin_socket=str(admin_socket)
    )


def member_env(
    environ: Mapping[str, str], the_plan: Plan, services: Services, data_dir: Path
) -> dict[str, str]:
    """A child's environment: this process's, with the shared servers' URLs
    (its address comes as arguments). Children never start embedded servers of their own."""
    env = dict(environ)
    env |= {
        "PROCTOR_DATABASE_URL": services.database_url,
        "PROCTOR_REDIS_URL": services.redis_url,
        "PROCTOR_DATA_DIR": str(data_dir),
        "PROCTOR_DEMO_SEED": "0",  # seeded once, by the cluster
    }
    # the addresses phones are given, and the only proxy believed: HAProxy here
    env.setdefault("PROCTOR_PUBLIC_URL", the_plan.url)
    env.setdefault("PROCTOR_TRUSTED_PROXIES", "127.0.0.1/32")
    return env


@dataclass
class Member:
    """One child process, restartable: ``Supervised`` for the supervisor."""

    name: str
    args: list[str]
    env: dict[str, str] | None = None
    # HAProxy stops gracefully on SIGUSR1 (SIGTERM is its hard stop)
    stop_signal: int = signal.SIGTERM
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        if self._proc is not None:
            self._proc.poll()  # reap a dead one
        # Started from the event loop's thread, which lives as long as this
        # process: PR_SET_PDEATHSIG follows the thread that forked.
        self._proc = subprocess.Popen(
            self.args, env=self.env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent
        )

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def restart(self) -> None:
        self.start()

    def terminate(self) -> None:
        if self.is_running():
            assert self._proc is not None
            self._proc.send_signal(self.stop_signal)

    async def wait_stopped(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """Wait for the exit after ``terminate()``; kill it when it is late. The exit code."""
        proc = self._proc
        if proc is None:
            return None
        try:
            return await asyncio.to_thread(proc.wait, timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", self.name, timeout_s)
            proc.kill()
            return await asyncio.to_thread(proc.wait, timeout_s)


def serve_args(the_plan: Plan, spec: Spec, log_level: str) -> list[str]:
    return [
        sys.executable, "-m", "proctor.cli", "serve", "--role", spec.role,
        "--host", the_plan.member_host, "--port", str(spec.port), "--log-level", log_level,
    ]  # fmt: skip


async def wait_ready(member: Member, url: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Until ``url``/readyz answers 200; an error if the process exits or is late."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if not member.is_running():
                raise ClusterError(f"{member.name} exited while starting")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            if loop.time() > deadline:
                raise ClusterError(f"{member.name} was not ready at {url} in {timeout_s:.0f}s")
            await asyncio.sleep(0.2)


def check_haproxy(binary: str, config: Path) -> None:
    """``haproxy -c``: a bad configuration is an error before anything listens."""
    try:
        done = subprocess.run(
            [binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError:
        raise ClusterError(
            f"HAProxy not found at {binary}: run scripts/ensure-haproxy.sh "
            "(or apt-get install haproxy)"
        ) from None
    if done.returncode != 0:
        raise ClusterError(f"haproxy -c refused {config}: {done.stdout}{done.stderr}")


@dataclass
class Cluster:
    """The running processes; ``start()`` then ``stop()`` once."""

    the_plan: Plan
    services: Services
    data_dir: Path
    haproxy: str
    environ: Mapping[str, str]
    log_level: str = "info"
    members: list[Member] = field(default_factory=list, init=False)
    _supervisors: list[Supervisor] = field(default_factory=list, init=False)

    @property
    def folder(self) -> Path:
        return self.data_dir / "cluster"

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "haproxy.cfg"
        config.write_text(haproxy_config(self.the_plan, self.folder / "haproxy.sock"))
        check_haproxy(self.haproxy, config)
        embedded = Supervisor(self.services.embedded())
        await embedded.start()
        self._supervisors.append(embedded)
        for spec in self.the_plan.members:
            env = member_env(self.environ, self.the_plan, self.services, self.data_dir)
            member = Member(spec.name, serve_args(self.the_plan, spec, self.log_level), env)
            member.start()
            self.members.append(member)
        await asyncio.gather(
            *(
                wait_ready(m, self.the_plan.member_url(s))
                for m, s in zip(self.members, self.the_plan.members, strict=True)
            )
        )
        balancer = Member(
            "haproxy", [self.haproxy, "-db", "-f", str(config)], stop_signal=signal.SIGUSR1
        )
        balancer.start()
        self.members.insert(0, balancer)
        await wait_ready(balancer, self.the_plan.url)
        children = Supervisor(self.members, what="cluster process")
        await children.start()
        self._supervisors.append(children)

    async def stop(self) -> list[tuple[str, int | None]]:
        """Stop the supervisors, then every process (HAProxy first, so nothing
        new arrives), then the embedded servers. The exit codes."""
        for supervisor in reversed(self._supervisors):
            await supervisor.stop()
        codes: list[tuple[str, int | None]] = []
        for group in (self.members[:1], self.members[1:]):
            for member in group:
                member.terminate()
            for member in group:
                codes.append((member.name, await member.wait_stopped()))
        await asyncio.to_thread(self.services.stop)
        return codes


def describe(the_plan: Plan, services: Services, data_dir: Path) -> str:
    lines = [f"Proctor cluster on {the_plan.url}  (HAProxy → {len(the_plan.webs)} web processes)"]
    lines += [f"  {m.name:<12} {m.role:<10} {the_plan.member_url(m)}" for m in the_plan.members]
    lines.append(f"  sign in             : {the_plan.url}/static/login.html")
    lines.append(
        f"  data folder         : {data_dir}"
        + ("  (embedded PostgreSQL)" if services.postgres else "")
        + ("  (embedded Redis)" if services.redis else "")
    )
    return "\n".join(lines)


async def run(cluster: Cluster) -> int:
    """Start, print the URL, run until SIGTERM/SIGINT, stop everything. 0 on a clean stop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        starting = asyncio.create_task(cluster.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a failed start raises here
            print(describe(cluster.the_plan, cluster.services, cluster.data_dir), flush=True)
            await stopping
        else:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
    finally:
        codes = await cluster.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    unclean = [(name, code) for name, code in codes if code not in (0, None)]
    print(
        "Proctor cluster stopped"
        + (f"; unclean exits: {unclean}" if unclean else ": every process exited cleanly")
        + ".",
        flush=True,
    )
    return 0 if not unclean else 1
