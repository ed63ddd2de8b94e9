"""The watchers' side: one pub/sub connection per process, fanned out to local sinks.

Why one connection: a process may hold hundreds of watchers of a few sessions; each
session's channel is subscribed once, whatever the number of local watchers, and every
message is decoded once and handed to each local sink. A sink must never block: the
subscriber loop calls ``deliver`` synchronously and goes on (see ``StreamSink``), so a slow
watcher costs the others nothing; keeping only the newest snapshot per slot is the sink's
job (``live.connection.Connection.push`` already does it; ``LatestWinsInbox`` is the same
rule for code that wants an awaitable queue).

When the connection fails (Redis down, or no reply to a ping within ``DEAD_AFTER``), every
sink is ended with ``CLOSE_TRY_AGAIN`` (1013): the stream is interrupted, the server itself
is fine and the watcher may reconnect later; 1011 would say the server failed on this
request, which it did not. The loop reconnects with a backoff and resubscribes what is
still wanted (the control channel, and the sessions watched since).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from mlp_playground.cluster import wire
from mlp_playground.cluster.errors import OPERATION_TIMEOUT, ClusterUnavailable, guarded
from mlp_playground.cluster.keys import Keys

log = logging.getLogger("mlp_playground.cluster")

CLOSE_TRY_AGAIN = 1013
PING_INTERVAL = 1.0
DEAD_AFTER = 3.0
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 2.0


class StreamSink(Protocol):
    """Where one remote watcher's messages go. Called on the event loop; must not block.

    ``deliver(payload, slot)``: a frame (bytes) or text message (str), the owner's own
    bytes; ``slot`` is the owner's latest-wins slot name (None: must not be dropped). A sink
    keeps at most one pending message per slot (``Connection.push(payload, slot)`` does).
    ``end(code, reason)``: the stream is over; the sink closes its watcher with ``code``.
    1013 means interrupted (Redis or the owner's process is gone: retry later); any other
    code is the owner's own close (the session ended). Called at most once.
    """

    def deliver(self, payload: str | bytes, slot: str | None) -> None: ...

    def end(self, code: int, reason: str) -> None: ...


class RemoteWatch:
    """One local watcher of a session owned by another process (``Cluster.watch``)."""

    def __init__(self, watcher_id: str, session_id: str, owner: str, sink: StreamSink) -> None:
        self.id = watcher_id
        self.session_id = session_id
        self.owner = owner
        self.sink = sink
        self.ended = False
        self.delivered = 0

    def _end(self, code: int, reason: str) -> None:
        if not self.ended:
            self.ended = True
            with contextlib.suppress(Exception):
                self.sink.end(code, reason)


class Subscriber:
    """The process's pub/sub connection and its local watchers. Loop-thread only."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        process_id: str,
        on_control: Callable[[dict[str, Any]], None],
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.on_control = on_control
        self.on_state: Callable[[bool], None] | None = None  # connected / interrupted
        self._control = keys.control(process_id).encode()
        self._channels: dict[bytes, dict[str, RemoteWatch]] = {}
        self._by_id: dict[str, RemoteWatch] = {}
        self._confirm: dict[bytes, asyncio.Future[None]] = {}
        self._pubsub: PubSub | None = None
        self.connected = asyncio.Event()
        #: Set by ``Cluster.close`` before cancelling: a cancellation lost inside redis-py
        #: (it can surface as a timeout) must not leave the loop running.
        self.stopping = False
        self.interruptions = 0
        self.messages = 0  # channel messages received (each fanned out to its watchers)

    @property
    def channels(self) -> int:
        """Session channels subscribed (one per watched session, whatever the watchers)."""
        return len(self._channels)

    # --- watchers -----------------------------------------------------------------------

    async def add(self, watch: RemoteWatch) -> None:
        """Deliver the session's messages to ``watch`` from now on (subscribed when this returns)."""
        ps = self._pubsub
        if ps is None or not self.connected.is_set():
            raise ClusterUnavailable("Redis unavailable: the stream subscriber is reconnecting")
        channel = self.keys.frames(watch.session_id).encode()
        local = self._channels.get(channel)
        if local is not None:
            if channel in self._confirm:  # another watcher's SUBSCRIBE is in flight
                await guarded("subscribe", asyncio.shield(self._confirm[channel]))
            local[watch.id] = watch
            self._by_id[watch.id] = watch
            return
        self._channels[channel] = {watch.id: watch}
        self._by_id[watch.id] = watch
        fut = self._confirm[channel] = asyncio.get_running_loop().create_future()
        try:
            await guarded("subscribe", ps.subscribe(channel))
            await guarded("subscribe", asyncio.shield(fut), OPERATION_TIMEOUT)
        except BaseException:
            self._discard(watch)
            raise
        finally:
            self._confirm.pop(channel, None)

    def _discard(self, watch: RemoteWatch) -> bytes | None:
        """Forget ``watch``; the channel name if it was the session's last local watcher."""
        self._by_id.pop(watch.id, None)
        channel = self.keys.frames(watch.session_id).encode()
        local = self._channels.get(channel)
        if local is None:
            return None
        local.pop(watch.id, None)
        if local:
            return None
        del self._channels[channel]
        return channel

    async def remove(self, watch: RemoteWatch) -> None:
        """Stop delivering to ``watch``; unsubscribes after the session's last local watcher."""
        channel = self._discard(watch)
        ps = self._pubsub
        if channel is not None and ps is not None and self.connected.is_set():
            with contextlib.suppress(ClusterUnavailable):
                await guarded("unsubscribe", ps.unsubscribe(channel))

    def watches(self) -> list[RemoteWatch]:
        return list(self._by_id.values())

    def end_watch(self, watch: RemoteWatch, code: int, reason: str) -> None:
        """End one watcher now (owner gone, owner's close); the channel is left on remove."""
        self._discard(watch)
        watch._end(code, reason)

    # --- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, read, and on failure interrupt every watcher and reconnect (backoff)."""
        backoff = BACKOFF_FIRST
        while not self.stopping:
            try:
                await self._connect()
                backoff = BACKOFF_FIRST
                await self._read_forever()
            except asyncio.CancelledError:
                await self._abandon("shutting down", notify=False)
                raise
            except Exception as exc:  # Redis errors, a dead connection, a bug: reconnect
                if self.stopping:  # a cancellation turned into a timeout by the race
                    break  # between asyncio's timeouts and cancel (seen on 3.11)
                log.warning("cluster stream subscriber: %s", exc or type(exc).__name__)
            await self._abandon("stream interrupted: Redis unavailable", notify=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
        await self._abandon("shutting down", notify=False)

    async def _connect(self) -> None:
        ps = self.redis.pubsub()
        self._pubsub = ps
        await guarded("subscribe", ps.subscribe(self._control, *self._channels))
        self.connected.set()
        if self.on_state is not None:
            self.on_state(True)

    async def _abandon(self, reason: str, notify: bool) -> None:
        """Drop the connection; end every local watcher with 1013 (they will retry)."""
        was = self.connected.is_set()
        self.connected.clear()
        ps, self._pubsub = self._pubsub, None
        for fut in self._confirm.values():
            if not fut.done():
                fut.set_exception(ClusterUnavailable(reason))
        watches = list(self._by_id.values())
        self._channels.clear()
        self._by_id.clear()
        for watch in watches:
            watch._end(CLOSE_TRY_AGAIN, reason)
        if ps is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ps.aclose(), OPERATION_TIMEOUT)
        if was and notify:
            self.interruptions += 1
            if self.on_state is not None:
                self.on_state(False)

    async def _read_forever(self) -> None:
        ps = self._pubsub
        assert ps is not None
        last_rx = last_ping = time.monotonic()
        while not self.stopping:
            msg = await ps.get_message(timeout=PING_INTERVAL)
            now = time.monotonic()
            if msg is not None:
                last_rx = now
                self._dispatch(msg)
            if now - last_ping >= PING_INTERVAL:
                if now - last_rx > DEAD_AFTER:
                    raise ClusterUnavailable(f"no reply from Redis for {now - last_rx:.1f} s")
                last_ping = now
                await guarded("ping", ps.ping())

    def _dispatch(self, msg: dict[str, Any]) -> None:
        kind, channel = msg["type"], msg.get("channel")
        if kind == "subscribe":
            fut = self._confirm.get(channel) if isinstance(channel, bytes) else None
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        if kind != "message":
            return
        if channel == self._control:
            try:
                request = json.loads(msg["data"])
            except ValueError:
                log.warning("undecodable control message ignored")
                return
            self.on_control(request)
            return
        local = self._channels.get(channel) if isinstance(channel, bytes) else None
        if local and isinstance(channel, bytes):
            self._fan_out(channel, local, msg["data"])

    def _fan_out(self, channel: bytes, local: dict[str, RemoteWatch], data: bytes) -> None:
        try:
            m = wire.decode(data)
        except ValueError:
            log.warning("malformed message on %r ignored", channel)
            return
        self.messages += 1
        if m.target is not None:
            one = local.get(m.target)
            targets = [one] if one is not None else []
        else:
            targets = list(local.values())
        for watch in targets:
            if m.kind == wire.END:
                self.end_watch(watch, *wire.end_fields(m))
                continue
            try:
                watch.sink.deliver(m.payload, m.slot)
                watch.delivered += 1
            except Exception:  # a broken sink is that watcher's problem only
                log.exception("stream sink failed; watcher %s dropped", watch.id)
                self.end_watch(watch, CLOSE_TRY_AGAIN, "internal error")
