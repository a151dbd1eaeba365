"""Supervision of the embedded PostgreSQL and Redis of ``proctor serve``.

A killed embedded server left ``/readyz`` at 503 until a person acted. The
supervisor checks each server every ``check_s`` and restarts a dead one with
bounded retries and exponential back-off, logging one line per change of
state (up → down, down → up, down → given up), not one per check.

``RestartPolicy`` is the pure part (time is a parameter); ``Supervisor`` is
the thin asyncio loop around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class Supervised(Protocol):
    """An embedded server as the supervisor sees it."""

    name: str

    def is_running(self) -> bool: ...

    async def restart(self) -> None: ...


class State(enum.Enum):
    UP = "up"
    DOWN = "down"  # restarting
    GAVE_UP = "gave_up"


@dataclass(frozen=True)
class Backoff:
    """At most ``max_attempts`` restarts per outage: the first ``first_delay_s``
    after the server is seen down, then doubling up to ``max_delay_s``."""

    max_attempts: int = 8
    first_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_delay_s, self.first_delay_s * 2**failures))


@dataclass
class RestartPolicy:
    """The restart state of one server."""

    backoff: Backoff = field(default_factory=Backoff)
    state: State = State.UP
    failures: int = 0
    next_at: float = 0.0
    last_error: str = ""

    def observe(self, running: bool, now: float) -> State | None:
        """A check's result. Returns the new state when it changed."""
        if running:
            if self.state is State.UP:
                return None
            self.state, self.failures, self.last_error = State.UP, 0, ""
            return State.UP
        if self.state is State.UP:
            self.state, self.failures = State.DOWN, 0
            self.next_at = now + self.backoff.first_delay_s
            return State.DOWN
        return None

    def due(self, now: float) -> bool:
        """Whether a restart should be tried now."""
        return self.state is State.DOWN and now >= self.next_at

    def failed(self, error: str, now: float) -> State | None:
        """A restart failed. Returns ``GAVE_UP`` when that was the last try."""
        self.failures += 1
        self.last_error = error
        if self.failures >= self.backoff.max_attempts:
            self.state = State.GAVE_UP
            return State.GAVE_UP
        self.next_at = now + self.backoff.delay(self.failures)
        return None


@dataclass
class Supervisor:
    """Watches ``servers`` while ``proctor serve`` runs. ``stop()`` cancels the
    loop and waits for it, and for a restart under way (each is bounded by its
    own timeout), so the servers can be stopped safely after it. A stopped
    supervisor never starts again."""

    servers: Sequence[Supervised]
    check_s: float = 1.0
    what: str = "embedded"  # the log's word for them: "embedded redis is down"
    backoff: Backoff = field(default_factory=Backoff)
    _policies: dict[str, RestartPolicy] = field(default_factory=dict, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _restart: asyncio.Task[None] | None = field(default=None, init=False)
    _stopped: bool = field(default=False, init=False)

    def state(self, name: str) -> State:
        return self._policies[name].state

    async def start(self) -> None:
        if self._stopped or self._task is not None:
            raise RuntimeError("a supervisor starts once")
        self._policies = {s.name: RestartPolicy(self.backoff) for s in self.servers}
        self._task = asyncio.create_task(self._run(), name="embedded-supervisor")

    async def stop(self) -> None:
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        restart, self._restart = self._restart, None
        if restart is not None:
            # not cancelled: a pg_ctl in a thread cannot be, and its end is bounded
            await asyncio.wait({restart})
            if not restart.cancelled() and restart.exception() is not None:
                log.info("a restart under way at stop failed: %s", restart.exception())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for server in self.servers:
                await self._check(server, loop)
            await asyncio.sleep(self.check_s)

    async def _check(self, server: Supervised, loop: asyncio.AbstractEventLoop) -> None:
        policy = self._policies[server.name]
        self._log(server.name, policy.observe(server.is_running(), loop.time()), policy)
        if not policy.due(loop.time()):
            return
        error = await self._try_restart(server)
        if error is None and server.is_running():
            self._log(server.name, policy.observe(True, loop.time()), policy)
        else:
            error = error or "not running after the restart"
            self._log(server.name, policy.failed(error, loop.time()), policy)

    async def _try_restart(self, server: Supervised) -> str | None:
        """Restart ``server``; the error, or ``None``. Shielded: a stop waits
        for it instead of abandoning it half done."""
        self._restart = restart = asyncio.create_task(
            server.restart(), name=f"restart-{server.name}"
        )
        try:
            await asyncio.shield(restart)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure is a failed try; the policy bounds them
            return f"{type(exc).__name__}: {exc}"
        finally:
            if restart.done():
                self._restart = None
        return None

    def _log(self, name: str, change: State | None, policy: RestartPolicy) -> None:
        if change is State.DOWN:
            log.warning("%s %s is down; restarting it", self.what, name)
        elif change is State.UP:
            log.warning("%s %s is up again", self.what, name)
        elif change is State.GAVE_UP:
            log.error(
                "%s %s: gave up after %d restarts (last: %s); restart it by hand",
                self.what,
                name,
                policy.failures,
                policy.last_error,
            )
