"""A PostgreSQL pool that must not be used: a test that a path asks only Redis."""

from __future__ import annotations

from typing import NoReturn


class FakeRefusingPool:
    """Fails the test on any ``acquire``."""

    def acquire(self) -> NoReturn:
        raise AssertionError("PostgreSQL was asked")
