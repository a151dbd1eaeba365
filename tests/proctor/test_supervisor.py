"""The embedded servers' supervisor: bounded restarts with back-off (issue #9)."""

from __future__ import annotations

import logging

import pytest

from proctor.supervisor import Backoff, RestartPolicy, State, Supervisor
from tests.support.fake_servers import FakeServer
from tests.support.waits import eventually


def test_a_dead_server_is_restarted_after_the_first_delay() -> None:
    policy = RestartPolicy(Backoff(first_delay_s=0.5))
    assert policy.observe(True, 0.0) is None
    assert policy.observe(False, 10.0) is State.DOWN
    assert not policy.due(10.4)
    assert policy.due(10.5)
    assert policy.observe(False, 10.6) is None  # still down: no new state


def test_failed_restarts_back_off_then_give_up() -> None:
    policy = RestartPolicy(Backoff(max_attempts=4, first_delay_s=1.0, max_delay_s=3.0))
    policy.observe(False, 0.0)
    waits = []
    for _ in range(3):
        assert policy.failed("boom", 100.0) is None
        waits.append(policy.next_at - 100.0)
    assert waits == [2.0, 3.0, 3.0]  # doubling, capped
    assert policy.failed("boom", 100.0) is State.GAVE_UP
    assert not policy.due(1e9)  # bounded: no more tries
    assert policy.last_error == "boom"


def test_a_server_back_is_up_and_its_next_outage_starts_over() -> None:
    policy = RestartPolicy(Backoff(max_attempts=2))
    policy.observe(False, 0.0)
    policy.failed("x", 1.0)
    assert policy.observe(True, 2.0) is State.UP
    assert policy.observe(False, 3.0) is State.DOWN
    assert policy.failures == 0


async def test_supervisor_restarts_a_killed_server_with_one_line_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = FakeServer("redis", failures=2)
    supervisor = Supervisor([server], check_s=0.01, backoff=Backoff(first_delay_s=0.01))
    await supervisor.start()
    try:
        with caplog.at_level(logging.INFO, logger="proctor.supervisor"):
            server.kill()

            async def up_again() -> bool:
                return server.running and supervisor.state("redis") is State.UP

            await eventually(up_again, within=10)
    finally:
        await supervisor.stop()
    assert server.restarts == 3
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["embedded redis is down; restarting it", "embedded redis is up again"]


async def test_supervisor_gives_up_after_the_bounded_tries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = FakeServer("postgres", failures=100)
    backoff = Backoff(max_attempts=3, first_delay_s=0.01, max_delay_s=0.02)
    supervisor = Supervisor([server], check_s=0.01, backoff=backoff)
    await supervisor.start()
    try:
        server.kill()

        async def gave_up() -> bool:
            return supervisor.state("postgres") is State.GAVE_UP

        await eventually(gave_up, within=10)
    finally:
        await supervisor.stop()
    assert server.restarts == 3
    assert "gave up after 3 restarts" in caplog.text


async def test_a_stopped_supervisor_never_starts_again() -> None:
    supervisor = Supervisor([FakeServer("redis")])
    await supervisor.start()
    await supervisor.stop()
    with pytest.raises(RuntimeError):
        await supervisor.start()
