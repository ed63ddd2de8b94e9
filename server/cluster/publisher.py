"""The owner's side of the stream: each message published once, off the training path.

Why a queue and a task: ``publish`` is called where frames are produced and must return at
once whatever Redis does. It encodes the message once (wire.py) and queues it; one task
sends everything queued in a single pipeline (one round trip for all sessions), so a burst
of frames from many sessions costs one write. While a round trip is in flight, a new
snapshot replaces the unsent one of its slot (the same latest-wins rule as a websocket),
and plain messages queue up to ``MAX_PENDING`` per session (the oldest are dropped beyond).

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
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from redis.asyncio import Redis

from mlp_playground.cluster import wire
from mlp_playground.cluster.errors import ClusterUnavailable, guarded
from mlp_playground.cluster.keys import Keys

log = logging.getLogger("mlp_playground.cluster")

MAX_PENDING = 512
#: After a failed send, messages are dropped (not queued) for this long.
RETRY_AFTER = 0.5


@dataclass
class _Outbox:
    """One session's unsent messages: (seq, epoch, data, untargeted) in a FIFO and in slots."""

    fifo: deque[tuple[int, int, bytes, bool]] = field(default_factory=deque)
    slots: dict[str, tuple[int, int, bytes, bool]] = field(default_factory=dict)


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

    async def _pipeline(self, batch: list[tuple[str, int, bytes, bool]]) -> list[int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid, _, data, _ in batch:
                pipe.publish(self.keys.frames(sid), data)
            return list(await guarded("publish", pipe.execute()))

    async def _send(self, batch: list[tuple[str, int, bytes, bool]]) -> None:
        try:
            try:
                receivers = await self._pipeline(batch)
            except ClusterUnavailable:
                # Once more on a fresh connection: a pooled one that died with a restarted
                # Redis fails on first use, and redis-py 5 pipelines do not retry it. While
                # Redis is down the second attempt is refused at once.
                receivers = await self._pipeline(batch)
        except Exception as exc:  # ClusterUnavailable (or a bug): drop, never die
            self.dropped += len(batch)
            self._down_until = time.monotonic() + RETRY_AFTER
            log.debug("publish failed, %d messages dropped: %s", len(batch), exc)
            return
        self.published += len(batch)
        for (sid, epoch, _, untargeted), count in zip(batch, receivers, strict=True):
            if untargeted and count == 0 and self._epoch.get(sid, 0) == epoch:
                self._interest[sid] = False
