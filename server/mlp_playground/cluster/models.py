"""The model document of each owned session, written to Redis for ``/predict`` elsewhere.

Why only on demand: a document is read from another process only by ``/predict`` with a
session id and a remote watcher's ``get_model``, which are rare; written once a second for
every session, the documents were a sixth of a busy process's CPU (building the JSON on
the training thread, one loop wake-up per offer, one ``SET`` each). So a session's
document is written only while some process *wants* it:

- a reader marks the session wanted in Redis (the ``model-wanted`` key, ``WANTED_SECONDS``
  TTL, renewed by every read); the owner's heartbeat sees the mark (the directory's claim
  script reports it) and keeps writing while it lasts;
- a read that finds no current document (nobody wanted it: the old one is deleted then, as
  it may be stale; or the session just moved) also asks the owner directly, over its
  control channel, and waits up to ``FIRST_READ_SECONDS`` for the document: the owner
  builds one at once, even for a paused session (``Cluster.on_model_wanted``).

Why a writer task between the live layer and Redis: the document is built where the
trainer is (the training thread), which must never await Redis. ``offer`` only stores the
newest document; the writer sends at most one ``SET`` a second per session (``interval``),
in one pipeline for all, and drops the offer if Redis is down (the next one replaces it).
While wanted, a reader is at most ``interval`` plus the live layer's own offer period
behind the trainer; ``due`` lets the live layer skip building a document that would not be
written. The key's TTL is the directory's: the heartbeat renews it (a paused session's
model stays readable), a dead process's expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from typing import Any

from redis.asyncio import Redis

from mlp_playground.cluster.errors import ClusterUnavailable, guarded
from mlp_playground.cluster.keys import Keys

log = logging.getLogger("mlp_playground.cluster")

#: How long one read keeps a session's document wanted (the mark's TTL in Redis, and how
#: long the owner keeps writing after it last saw the mark; longer than a heartbeat).
WANTED_SECONDS = 10.0
#: How long a read that found no current document waits for the owner to write one.
FIRST_READ_SECONDS = 2.0
#: How often that read looks again.
FIRST_READ_POLL = 0.05

# KEYS: model key, model-wanted key, session hash. ARGV: wanted ms.
# Returns {document or false, owner process or false}. A session nobody wanted lately has
# a document of unknown age: it is deleted, and the reader asks the owner for a new one.
# An id no live process holds leaves nothing behind (no mark for a guessed id).
READ = """
local owner = redis.call('HGET', KEYS[3], 'process')
if not owner then return {false, false} end
local was = redis.call('EXISTS', KEYS[2]) == 1
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
if not was then
  redis.call('DEL', KEYS[1])
  return {false, owner}
end
return {redis.call('GET', KEYS[1]) or false, owner}
"""


def _bytes(value: Any) -> bytes | None:
    if value is None or value is False:
        return None
    return value.encode() if isinstance(value, str) else bytes(value)


class ModelWriter:
    """Latest-wins model documents of the wanted sessions, at most one ``SET`` per
    ``interval`` per session."""

    def __init__(self, redis: Redis, keys: Keys, ttl: float, interval: float = 1.0) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_ms = max(1, round(ttl * 1000))
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: dict[str, bytes] = {}
        self._written: dict[str, float] = {}  # session id -> monotonic time of last write
        self._wanted: dict[str, float] = {}  # session id -> monotonic time the want ends
        self._asked: dict[str, float] = {}  # session id -> when a reader last asked (owner)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read = redis.register_script(READ)
        self.writes = 0
        self.stopping = False  # see Subscriber.stopping

    # --- the owner's side -------------------------------------------------------------

    def want(self, session_id: str) -> None:
        """Some process wants this owned session's document: write it for the next
        ``WANTED_SECONDS``."""
        until = time.monotonic() + WANTED_SECONDS
        with self._lock:
            self._wanted[session_id] = max(until, self._wanted.get(session_id, 0.0))

    def first_ask(self, session_id: str) -> bool:
        """A reader asked the owner for a document: whether to build one now. At most one
        a session per ``interval``: every reader that finds no document asks, and a large
        net's document takes the training thread a quarter of a second to build."""
        now = time.monotonic()
        with self._lock:
            if now - self._asked.get(session_id, -1e9) < self.interval:
                return False
            self._asked[session_id] = now
            return True

    def wanted(self, session_id: str) -> bool:
        """Whether the session's document is wanted now. Any thread."""
        with self._lock:
            return self._wanted_now(session_id, time.monotonic())

    def _wanted_now(self, session_id: str, now: float) -> bool:
        until = self._wanted.get(session_id)
        if until is None:
            return False
        if until > now:
            return True
        del self._wanted[session_id]
        return False

    def offer(self, session_id: str, document: str | bytes) -> None:
        """Store the newest document (JSON text or UTF-8 bytes). Any thread; never blocks.

        Ignored unless the session is wanted. The writer is woken only for a session with
        nothing written yet (a reader is waiting); the others are picked up by its tick.
        """
        data = document.encode() if isinstance(document, str) else bytes(document)
        with self._lock:
            if not self._wanted_now(session_id, time.monotonic()):
                return
            self._pending[session_id] = data
            first = session_id not in self._written
        loop = self._loop
        if first and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def due(self, session_id: str) -> bool:
        """Whether a document offered now would be written within a tick. Any thread."""
        now = time.monotonic()
        with self._lock:
            if not self._wanted_now(session_id, now):
                return False
            last = self._written.get(session_id)
        return last is None or now - last >= self.interval

    def forget(self, session_id: str) -> None:
        """Stop writing this session's model (the directory deletes the key)."""
        with self._lock:
            self._pending.pop(session_id, None)
            self._written.pop(session_id, None)
            self._wanted.pop(session_id, None)
            self._asked.pop(session_id, None)

    # --- any process: reading -----------------------------------------------------------

    async def read(self, session_id: str) -> bytes | None:
        """The session's current document, and the session marked wanted; if there is
        none, the owner's process is asked for one (control channel, ``{"type":
        "model"}``) and waited for, ``FIRST_READ_SECONDS`` from the start of the read.
        None: no live process holds the session, or its process is gone.
        ``ClusterUnavailable``: Redis did not answer, or the owner wrote nothing in time
        (it is busy, or handing the session over): try again."""
        deadline = time.monotonic() + FIRST_READ_SECONDS
        k = self.keys
        names = [k.model(session_id), k.model_wanted(session_id), k.session(session_id)]
        wanted_ms = round(WANTED_SECONDS * 1000)
        found, owner = await guarded("model read", self._read(keys=names, args=[wanted_ms]))
        document, process = _bytes(found), _bytes(owner)
        if document is not None or process is None:
            return document
        request = json.dumps({"type": "model", "session": session_id})
        channel = k.control(process.decode())
        if not await guarded("model ask", self.redis.publish(channel, request)):
            return None  # nobody listens there: the process is gone, its entries expire
        return await self._wait_for(session_id, deadline)

    async def _wait_for(self, session_id: str, deadline: float) -> bytes:
        """The document the owner was just asked for, once written."""
        key = self.keys.model(session_id)
        while True:
            value = _bytes(await guarded("model read", self.redis.get(key)))
            if value is not None:
                return value
            if time.monotonic() >= deadline:
                raise ClusterUnavailable("the session's process did not send its model in time")
            await asyncio.sleep(FIRST_READ_POLL)

    # --- the writer task ----------------------------------------------------------------

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
        """The writer task (started by ``Cluster.start``). Woken by an offer only for a
        first document; else it sleeps until the next pending one is due, or a tick
        (``interval`` / 4) when none is pending: offers cost the event loop nothing."""
        self._loop = asyncio.get_running_loop()
        tick = self.interval / 4
        wait: float | None = tick
        while not self.stopping:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), tick if wait is None else wait)
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
