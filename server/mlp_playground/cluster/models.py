"""The model document of each owned session, written to Redis for ``/predict`` elsewhere.

Why a writer task between the live layer and Redis: the document is built where the
trainer is (a worker or frame thread), which must never await Redis. ``offer`` only stores
the newest document and wakes the writer; the writer sends at most one ``SET`` a second per
session (``interval``), in one pipeline for all sessions, and drops the offer if Redis is
down (the next one replaces it anyway). A reader is at most ``interval`` plus the live
layer's own offer period behind the trainer; ``due`` lets the live layer skip building a
document that would not be written yet. The key's TTL is the directory's: the heartbeat
renews it (a paused session's model stays readable), a dead process's expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

from redis.asyncio import Redis

from mlp_playground.cluster.errors import guarded
from mlp_playground.cluster.keys import Keys

log = logging.getLogger("mlp_playground.cluster")


class ModelWriter:
    """Latest-wins model documents, flushed at most once per ``interval`` per session."""

    def __init__(self, redis: Redis, keys: Keys, ttl: float, interval: float = 1.0) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_ms = max(1, round(ttl * 1000))
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: dict[str, bytes] = {}
        self._written: dict[str, float] = {}  # session id -> monotonic time of last write
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.writes = 0
        self.stopping = False  # see Subscriber.stopping

    def offer(self, session_id: str, document: str | bytes) -> None:
        """Store the newest document (JSON text or UTF-8 bytes). Any thread; never blocks."""
        data = document.encode() if isinstance(document, str) else bytes(document)
        with self._lock:
            self._pending[session_id] = data
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def due(self, session_id: str) -> bool:
        """Whether a document offered now would be written within a tick. Any thread."""
        with self._lock:
            last = self._written.get(session_id)
        return last is None or time.monotonic() - last >= self.interval

    def forget(self, session_id: str) -> None:
        """Stop writing this session's model (the directory deletes the key)."""
        with self._lock:
            self._pending.pop(session_id, None)
            self._written.pop(session_id, None)

    async def read(self, session_id: str) -> bytes | None:
        """The stored document (JSON bytes), from any process; None if none or expired."""
        value = await guarded("model read", self.redis.get(self.keys.model(session_id)))
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else bytes(value)

    def _take_due(self, now: float) -> tuple[dict[str, bytes], float | None]:
        """Pop the offers that may be written now; the delay until the next one is due."""
        ready: dict[str, bytes] = {}
        wait: float | None = None
        with self._lock:
            for sid in list(self._pending):
                left = self._written.get(sid, -1e9) + self.interval - now
                if left <= 0:
                    ready[sid] = self._pending.pop(sid)
                    self._written[sid] = now
                else:
                    wait = left if wait is None else min(wait, left)
        return ready, wait

    async def run(self) -> None:
        """The writer task (started by ``Cluster.start``)."""
        self._loop = asyncio.get_running_loop()
        wait: float | None = None
        while not self.stopping:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            ready, wait = self._take_due(time.monotonic())
            if not ready:
                continue
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for sid, data in ready.items():
                        pipe.set(self.keys.model(sid), data, px=self.ttl_ms)
                    await guarded("model write", pipe.execute())
                self.writes += len(ready)
            except Exception as exc:  # ClusterUnavailable (or a bug): the task must not die
                log.debug("model write skipped: %s", exc)
