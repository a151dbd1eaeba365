"""The Redis clients of a process: one server, or a Redis Cluster.

``PROCTOR_REDIS_CLUSTER=1`` (``Settings.redis_cluster``) makes every client a
``redis.asyncio.cluster.RedisCluster`` that finds the cluster's nodes from
``PROCTOR_REDIS_URL`` (any one node, ``redis://host:port``). The code keeps
working unchanged on it because every command it sends names the keys of one
slot (rule H8):

- every per-attempt key carries the hash tag ``{att:<id>}`` (``hub/keys.py``),
  so the Lua scripts (``hub/store.py``: state hash and stream) and the
  transactions (``hub/wall.py``: one sorted set) stay in one slot;
- the other keys (``active-streams``, ``dirty-streams``, ``unattended``) are
  single keys, each command on them names one, and the non-transactional
  pipelines that mix attempts are split by the cluster client per node;
- pub/sub is Redis' classic ``PUBLISH``/``SUBSCRIBE``, which a cluster
  forwards to every node over its bus, so the process's one subscription
  (``hub/fanout.py``, on whichever node the client picks) hears every
  attempt's channel. Sharded pub/sub (``SPUBLISH``) would keep a message on
  its slot's node but needs Redis 7, and the bundled server is 6.2: the
  price is that every publish crosses the cluster bus to every node, which
  is fine for three masters and the reason to move to sharded pub/sub past a
  handful.

The type stays ``Redis``: ``RedisCluster`` answers the same commands the code
uses, with the same results, but shares no base class the checker could use.
"""

from __future__ import annotations

from typing import cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

CLUSTER_CONNECTIONS = 1_000
"""Connections per cluster node. The cluster client has no waiting pool: at
its limit a command fails (``MaxConnectionsError``) instead of waiting, so
its limit is set well above a waiting pool's."""


def connect(
    url: str, *, cluster: bool, max_connections: int | None = None, wait_s: float = 20.0
) -> Redis:
    """A client for ``url``. With ``max_connections``, one server's client
    waits up to ``wait_s`` for a free connection at the limit; a cluster's
    keeps at most ``max(max_connections, CLUSTER_CONNECTIONS)`` per node."""
    if cluster:
        limit = max(max_connections or 0, CLUSTER_CONNECTIONS)
        return cast(Redis, RedisCluster.from_url(url, max_connections=limit))
    if max_connections is None:
        return Redis.from_url(url)
    return Redis(
        connection_pool=BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=wait_s
        )
    )


async def ready(client: Redis) -> None:
    """Learn a cluster's slots now. A cluster client learns them with its
    first command, but its pub/sub picks a node from them before sending
    any: a web-only process, whose first use of the client is the router's
    SUBSCRIBE, failed it (KeyError on the slot). A no-op on one server."""
    if isinstance(client, RedisCluster):
        await client.initialize()


async def close(client: Redis) -> None:
    """Close the client and every connection of its pool (or its nodes)."""
    await client.aclose()
    if not isinstance(client, RedisCluster):
        await client.connection_pool.disconnect()
