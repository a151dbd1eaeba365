"""A failing background pass is logged once per change of state (proctor/tasks.py)."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from proctor.tasks import FailureLog


def test_one_outage_is_one_line_however_its_errors_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # PostgreSQL going down says "shutting down", then its socket is gone:
    # one outage, one line; the pass working again, one more
    log = logging.getLogger("tests.failure-log")
    failures = FailureLog(log, "deadline pass")
    caplog.set_level("WARNING", logger=log.name)
    failures.failed(asyncpg.CannotConnectNowError("the database system is shutting down"), 0.5)
    failures.failed(FileNotFoundError(2, "No such file or directory"), 0.5)
    failures.failed(ConnectionRefusedError(111, "Connection refused"), 0.5)
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    failures.failed(ValueError("a bug, not an outage"), 0.5)
    failures.succeeded()
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR", "WARNING"]
    assert "after 4 failed passes" in caplog.records[-1].getMessage()
