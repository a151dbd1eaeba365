"""Session fixtures: the real PostgreSQL and Redis, and a live server.

By default the embedded servers are started in a temporary folder. With
``PROCTOR_TEST_DATABASE_URL`` / ``PROCTOR_TEST_REDIS_URL`` set, the suite runs
against those servers instead: a fresh database is created for the run (and
dropped after), and every Redis key carries a random prefix.

With ``PROCTOR_TEST_REDIS_CLUSTER=1`` (``make test-cluster``) the Redis is a
3-master Redis Cluster started from the bundled binary on loopback ports
(``proctor/redis_cluster.py``), and every client is a cluster client (rule H8).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from redis.asyncio import Redis

from proctor.db import apply_schema, create_pool
from proctor.embedded import Services, start_services
from proctor.redis_client import close, connect
from proctor.redis_cluster import EmbeddedRedisCluster
from proctor.settings import Settings, load_settings
from tests.support.devices import Devices
from tests.support.live import LiveServer, start_live_server
from tests.support.recording_sms import RecordingSmsSender

FAULTS_DIR = Path(__file__).resolve().parent / "faults"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--faults",
        action="store_true",
        help="collect tests/faults: the fault tests against proctor cluster (make test-faults)",
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/faults runs by ``make test-faults`` (``--faults``), not in the default suite:
    minutes of load against a multi-process deployment."""
    if collection_path == FAULTS_DIR and not config.getoption("--faults"):
        return True
    return None


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _cluster_wanted() -> bool:
    return os.environ.get("PROCTOR_TEST_REDIS_CLUSTER", "") in ("1", "true", "yes")


@pytest.fixture(scope="session")
def redis_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EmbeddedRedisCluster | None]:
    """The 3-master Redis Cluster of a ``PROCTOR_TEST_REDIS_CLUSTER=1`` run; None otherwise."""
    if not _cluster_wanted():
        yield None
        return
    cluster = EmbeddedRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def services(
    tmp_path_factory: pytest.TempPathFactory, redis_cluster: EmbeddedRedisCluster | None
) -> Iterator[Services]:
    ext_db = os.environ.get("PROCTOR_TEST_DATABASE_URL")
    ext_redis = redis_cluster.url if redis_cluster else os.environ.get("PROCTOR_TEST_REDIS_URL")
    dbname = f"proctor_test_{secrets.token_hex(4)}"
    if ext_db:
        asyncio.run(_admin(ext_db, f'CREATE DATABASE "{dbname}"'))
        ext_db_run = _with_database(ext_db, dbname)
    else:
        ext_db_run = None
    data = tmp_path_factory.mktemp("services")
    svc = start_services(ext_db_run, ext_redis, data)
    yield svc
    svc.stop()
    if ext_db:
        asyncio.run(_admin(ext_db, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(
    services: Services,
    tmp_path_factory: pytest.TempPathFactory,
    redis_cluster: EmbeddedRedisCluster | None,
) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    # The face check (rule I2) is on by default in production; the tests of other
    # rules run without it, the identity tests turn it on (tests/support/identity.py).
    base = load_settings({"PROCTOR_DATA_DIR": str(data_dir), "PROCTOR_FACE_CHECK": "off"})
    return dataclasses.replace(
        base,
        database_url=services.database_url,
        redis_url=services.redis_url,
        redis_cluster=redis_cluster is not None,
        redis_prefix=f"t{secrets.token_hex(4)}",
    )


@pytest.fixture(scope="session")
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    assert settings.database_url
    p = await create_pool(settings.database_url, min_size=1, max_size=10)
    async with p.acquire() as conn:
        await apply_schema(conn)
    yield p
    await p.close()


@pytest.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    assert settings.redis_url
    client = connect(settings.redis_url, cluster=settings.redis_cluster)
    yield client
    await close(client)


@pytest.fixture(scope="session")
async def server(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[LiveServer]:
    live = await start_live_server(settings)
    yield live
    await live.stop()


@pytest.fixture(scope="session")
def sms_gateway() -> RecordingSmsSender:
    """What a real SMS gateway would have been asked to send (rule A4)."""
    return RecordingSmsSender()


@pytest.fixture(scope="session")
async def gateway_server(
    settings: Settings, pool: asyncpg.Pool, sms_gateway: RecordingSmsSender
) -> AsyncIterator[LiveServer]:
    """The app with another SMS sender passed in by the wiring: no outbox."""
    live = await start_live_server(settings, sms_sender=sms_gateway)
    yield live
    await live.stop()


@pytest.fixture
async def devices() -> AsyncIterator[Devices]:
    """Candidate devices a test brings live; closed when the test ends."""
    opened = Devices()
    yield opened
    await opened.aclose()
