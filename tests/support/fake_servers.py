"""A stand-in for an embedded server, for the supervisor's tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeServer:
    """Running until ``kill()``; ``restart()`` fails ``failures`` times first."""

    name: str
    running: bool = True
    failures: int = 0
    restarts: int = 0

    def kill(self) -> None:
        self.running = False

    def is_running(self) -> bool:
        return self.running

    async def restart(self) -> None:
        self.restarts += 1
        if self.failures > 0:
            self.failures -= 1
            raise OSError("shared memory still in use")
        self.running = True
