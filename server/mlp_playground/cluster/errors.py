"""The one exception the live layer has to know about, and the guard that raises it.

Why a single type: every caller of the cluster (a websocket handshake, ``/predict``, the
heartbeat) reacts to "Redis is not there" the same way, by degrading to what this process
can do alone; it must not have to know redis-py's exception tree, nor wait for a dead
server. Every call goes through ``guarded``: the client's own socket timeouts (~1 s) plus
an overall deadline, so nothing awaits Redis for longer than ``OPERATION_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from redis import exceptions as redis_exceptions

T = TypeVar("T")

#: Upper bound on one Redis call (the sockets time out after ``SOCKET_TIMEOUT``).
OPERATION_TIMEOUT = 1.5
SOCKET_TIMEOUT = 1.0

#: What "Redis is unreachable or too slow" looks like from redis-py and the OS. A
#: ``ResponseError`` (a wrong command) is a bug and is deliberately not in this list.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    redis_exceptions.ConnectionError,
    redis_exceptions.TimeoutError,
    OSError,
    asyncio.TimeoutError,
)


class ClusterUnavailable(RuntimeError):
    """Redis could not be reached (or answered too slowly): the cross-process part is down.

    The process keeps serving what it holds itself; the caller decides what to refuse.
    """


async def guarded(what: str, aw: Awaitable[T], timeout: float = OPERATION_TIMEOUT) -> T:
    """Await one Redis operation; any unavailability becomes ``ClusterUnavailable``."""
    try:
        return await asyncio.wait_for(aw, timeout)
    except UNAVAILABLE_ERRORS as exc:
        raise ClusterUnavailable(
            f"Redis unavailable during {what}: {exc or type(exc).__name__}"
        ) from exc
