"""The owner's side of the stream: each message published once, off the training path.

Why a queue and a task: ``publish`` is called where frames are produced and must return at
once whatever Redis does. It encodes the message once (wire.py) and queues it; one task
writes everything queued in one go on its own connection (one write for all sessions) and
goes on without waiting; a second task reads the replies in order (``_Line``). While the
task is busy, a new snapshot replaces the unsent one of its slot (the same latest-wins rule
as a websocket), and plain messages queue up to ``MAX_PENDING`` per session (the oldest are
dropped beyond).

Publishing to nobody is skipped: a session's messages go to Redis only while some other
process watches it (``interest``). Interest is switched on by a watcher's ``join``
(before the first message it must see) and by the heartbeat's ``PUBSUB NUMSUB``; it is
switched off when a ``PUBLISH`` reaches no subscriber, unless interest was renewed after
that message was queued (the epoch check), so a join is never lost to a stale reply.
While Redis is down, messages are dropped (counted in ``dropped``): the remote watchers
have been told their stream is interrupted, and nothing waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from mlp_playground.cluster import wire
from mlp_playground.cluster.errors import OPERATION_TIMEOUT, guarded
from mlp_playground.cluster.keys import Keys

log = logging.getLogger("mlp_playground.cluster")

MAX_PENDING = 512
#: PUBLISH commands written and not yet answered, at most, before the writer waits.
MAX_IN_FLIGHT = 2048
#: After a failed send, messages are dropped (not queued) for this long.
RETRY_AFTER = 0.5


@dataclass
class _Outbox:
    """One session's unsent messages: (seq, epoch, data, untargeted) in a FIFO and in slots."""

    fifo: deque[tuple[int, int, bytes, bool]] = field(default_factory=deque)
    slots: dict[str, tuple[int, int, bytes, bool]] = field(default_factory=dict)


class _Line:
    """The publisher's own connection: commands written by the task, replies read by another.

    Why not a pipeline per batch: ``execute`` waits for the replies, and each of its steps
    (pool, write, read) is a turn of the event loop; when the loop is busy deflating frames
    for hundreds of local watchers, a turn takes tens of milliseconds and remote watchers got
    one batch every ~4 turns (3-4 frames/s where local watchers got 15). Writing without
    waiting sends each batch in the turn it was queued; one connection keeps Redis's order.
    """

    def __init__(self, conn: AbstractConnection) -> None:
        self.conn = conn
        #: (session, epoch, untargeted) of each PUBLISH written and not yet answered.
        self.waiting: deque[tuple[str, int, bool]] = deque()
        self.more = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.conn.disconnect(nowait=True)


class Publisher:
    """Queues and sends channel messages for the sessions this process owns. Loop only."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._out: dict[str, _Outbox] = {}
        self._seq = itertools.count()
        self._interest: dict[str, bool] = {}
        self._epoch: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._down_until = 0.0
        self._line: _Line | None = None
        self._room = asyncio.Event()  # a reply came: the writer may go on
        self.stopping = False  # see Subscriber.stopping
        self.published = 0
        self.dropped = 0

    # --- interest -----------------------------------------------------------------------

    def set_interest(self, session_id: str, watched: bool) -> None:
        """Someone elsewhere watches (True: from a join or NUMSUB > 0) or nobody does."""
        if watched:
            self._epoch[session_id] = self._epoch.get(session_id, 0) + 1
        self._interest[session_id] = watched

    def interested(self, session_id: str) -> bool:
        return self._interest.get(session_id, False)

    def forget(self, session_id: str) -> None:
        self._interest.pop(session_id, None)
        self._epoch.pop(session_id, None)
        self._out.pop(session_id, None)

    # --- queueing -----------------------------------------------------------------------

    def publish(
        self, session_id: str, payload: str | bytes, slot: str | None, target: str | None
    ) -> bool:
        """Queue one message; False if it was not queued (nobody remote, or Redis down)."""
        if target is None and not self._interest.get(session_id, False):
            return False
        data = wire.encode(payload, slot, target)
        # A targeted message (one watcher's catch-up) is only ever replaced by a newer one
        # for the same watcher: two watchers joining at once each get their own ``data``.
        queue_slot = slot if target is None or slot is None else f"{slot}>{target}"
        return self._queue(session_id, data, queue_slot, target is None)

    def publish_end(self, session_id: str, code: int, reason: str) -> bool:
        """Queue the end of the stream for every remote watcher of the session."""
        if not self._interest.get(session_id, False):
            return False
        return self._queue(session_id, wire.encode_end(code, reason), None, True)

    def _queue(self, session_id: str, data: bytes, slot: str | None, untargeted: bool) -> bool:
        if time.monotonic() < self._down_until:
            self.dropped += 1
            return False
        box = self._out.get(session_id)
        if box is None:
            box = self._out[session_id] = _Outbox()
        item = (next(self._seq), self._epoch.get(session_id, 0), data, untargeted)
        if slot is None:
            if len(box.fifo) >= MAX_PENDING:
                box.fifo.popleft()
                self.dropped += 1
            box.fifo.append(item)
        else:
            if slot in box.slots:
                self.dropped += 1
            box.slots[slot] = item
        self._wake.set()
        return True

    def _drain(self) -> list[tuple[str, int, bytes, bool]]:
        """Everything queued, per session in production order: (session, epoch, data, all)."""
        batch: list[tuple[str, int, bytes, bool]] = []
        for sid, box in self._out.items():
            items = sorted([*box.fifo, *box.slots.values()])
            batch.extend((sid, epoch, data, untargeted) for _, epoch, data, untargeted in items)
        self._out.clear()
        return batch

    # --- sending ------------------------------------------------------------------------

    async def run(self) -> None:
        """The publisher task (started by ``Cluster.start``)."""
        while not self.stopping:
            await self._wake.wait()
            self._wake.clear()
            batch = self._drain()
            if batch:
                await self._send(batch)
            while self._line is not None and len(self._line.waiting) > MAX_IN_FLIGHT:
                self._room.clear()  # Redis is slow: slots coalesce meanwhile
                await self._room.wait()

    async def close(self) -> None:
        """Disconnect the publishing connection (after ``run`` has stopped)."""
        line = self._line
        if line is not None:
            self._lose(line)
            await line.close()

    async def _connect(self) -> _Line:
        if self._line is None:
            pool = self.redis.connection_pool
            # No socket timeout on writes: redis-py then wraps each in ``wait_for``, two more
            # turns of the loop. Reads get their deadline in ``_read_replies``.
            conn = pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None})
            await guarded("publish", conn.connect())
            line = self._line = _Line(conn)
            line.reader = asyncio.create_task(self._read_replies(line), name="cluster-replies")
        return self._line

    async def _send(self, batch: list[tuple[str, int, bytes, bool]]) -> None:
        """Write the batch's PUBLISH commands and return: the replies are read elsewhere."""
        commands = [("PUBLISH", self.keys.frames(sid), data) for sid, _, data, _ in batch]
        for attempt in (1, 2):
            line = None
            try:
                line = await self._connect()
                # Not through ``guarded`` (its ``wait_for`` costs two more turns): this
                # returns at once unless Redis stopped reading (a full socket buffer); the
                # reader then times out on the replies and closes the line, ending the wait.
                await line.conn.send_packed_command(line.conn.pack_commands(commands), False)
            except Exception as exc:  # ClusterUnavailable (or a bug): drop, never die
                if line is not None:
                    self._lose(line)
                    await line.close()
                    if attempt == 1:
                        # Once more on a fresh connection: one that died with a restarted
                        # Redis fails on first use. While Redis is down, connecting fails.
                        continue
                self.dropped += len(batch)
                self._down_until = time.monotonic() + RETRY_AFTER
                log.debug("publish failed, %d messages dropped: %s", len(batch), exc)
                return
            line.waiting.extend((sid, epoch, untargeted) for sid, epoch, _, untargeted in batch)
            line.more.set()
            return

    async def _read_replies(self, line: _Line) -> None:
        """One line's replies, in order: the receiver counts that switch interest off."""
        try:
            while self._line is line:
                if not line.waiting:
                    line.more.clear()
                    await line.more.wait()
                    continue
                # A deadline without ``wait_for`` (a timeout scope): no extra turns.
                count = await line.conn.read_response(timeout=OPERATION_TIMEOUT)
                if count is None:  # redis-py's answer to a read past the given timeout
                    raise TimeoutError(f"no reply from Redis within {OPERATION_TIMEOUT} s")
                sid, epoch, untargeted = line.waiting.popleft()
                self.published += 1
                if untargeted and count == 0 and self._epoch.get(sid, 0) == epoch:
                    self._interest[sid] = False
                self._room.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dead or hung connection: the next batch reconnects
            log.debug("publish connection lost: %s", exc)
            self._lose(line)
            await line.close()

    def _lose(self, line: _Line) -> None:
        """Forget ``line`` (the caller closes it): what it still waited for is dropped."""
        if self._line is line:
            self._line = None
        self.dropped += len(line.waiting)
        line.waiting.clear()
        self._room.set()
        if line.reader is not None and line.reader is not asyncio.current_task():
            line.reader.cancel()
