"""A Redis client that fails fast, for every Redis connection the cluster opens.

A process must notice within about a second that Redis is gone (its caps then hold
locally, its wall says what it cannot see) rather than hang on a dead socket.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from mlp_playground.cluster.errors import SOCKET_TIMEOUT


def connect(url: str, retries: int) -> Redis:
    """A client that fails fast: 1 s socket timeouts, no retry after a timeout.

    ``retries`` (0 or 1) applies to connection errors only: one immediate retry on a fresh
    connection heals a pooled connection that died with a restarted Redis (redis-py only
    notices on use), and costs nothing while Redis is down (the retry's connect is
    refused at once). The subscriber's client has none: a broken stream must be seen.
    """
    return Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), retries, supported_errors=(RedisConnectionError,)),
        # redis-py 5.x pipelines retry only the errors listed here (none by default).
        retry_on_error=[RedisConnectionError] if retries else [],
        decode_responses=False,
    )
