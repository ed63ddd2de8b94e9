"""``Cluster``: what one server process shares with the others through Redis.

One object per process (``MLPG_REDIS_URL``), created and closed in the app's lifespan. It
owns one Redis client (a small pool: commands and pipelines) and one pub/sub connection,
and four tasks: the heartbeat, the stream publisher, the model writer and the stream
subscriber. Nothing here is awaited by training: the training and frame threads only call
``offer_model`` / ``model_due`` (thread-safe, return at once); frames reach ``publish``
through the loop's ``call_soon_threadsafe``. Every other method belongs to the event loop
that ran ``start()`` (from another thread: ``asyncio.run_coroutine_threadsafe``).
Every async method raises ``ClusterUnavailable`` within ~1.5 s when Redis is not there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from mlp_playground.cluster.directory import SessionDirectory, SessionEntry
from mlp_playground.cluster.errors import ClusterUnavailable, guarded
from mlp_playground.cluster.fanout import CLOSE_TRY_AGAIN, RemoteWatch, StreamSink, Subscriber
from mlp_playground.cluster.keys import Keys
from mlp_playground.cluster.leases import LeaseScripts, LeaseSet
from mlp_playground.cluster.models import ModelWriter
from mlp_playground.cluster.publisher import Publisher
from mlp_playground.cluster.redis_client import connect
from mlp_playground.cluster.shares import ClientShares
from mlp_playground.tasks import cancel_and_wait

log = logging.getLogger("mlp_playground.cluster")

HEARTBEAT = 2.0


class Cluster:
    """Caps, directory, streams and models across the processes sharing one Redis."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "mlpg",
        heartbeat: float = HEARTBEAT,
        lease_ttl: float | None = None,
        model_interval: float = 1.0,
        process_id: str | None = None,
    ) -> None:
        self.process_id = process_id or f"{secrets.token_hex(4)}-{os.getpid()}"
        self.redis = connect(url, retries=1)
        self._stream_redis = connect(url, retries=0)  # the pub/sub connection's own pool
        self.keys = Keys(prefix)
        self.heartbeat = heartbeat
        self.lease_ttl = lease_ttl if lease_ttl is not None else 3 * heartbeat
        self._scripts = LeaseScripts(self.redis)
        self.sessions = LeaseSet(self.redis, self._scripts, self.keys.sessions, self.lease_ttl)
        self._watcher_sets: dict[str, LeaseSet] = {}
        #: Each client address's shares of sessions and students (``cluster.shares``).
        self.shares = ClientShares(self.redis, self._scripts, self.keys, self.lease_ttl)
        self.directory = SessionDirectory(self.redis, self.keys, self.process_id, self.lease_ttl)
        self.models = ModelWriter(self.redis, self.keys, self.lease_ttl, model_interval)
        self.publisher = Publisher(self.redis, self.keys)
        self.subscriber = Subscriber(
            self._stream_redis, self.keys, self.process_id, self._on_control
        )
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        #: Called on the loop when a watcher elsewhere joins an owned session: publish its
        #: catch-up (hello, config, data, latest frame) with ``target=watcher_id``.
        self.on_join: Callable[[str, str], None] | None = None
        #: Called on the loop when another process took over an owned session: drop it.
        self.on_session_lost: Callable[[str], None] | None = None
        #: Called on the loop when another process asks for an owned session (its owner
        #: reconnected there): write its last snapshot, then let it go.
        self.on_handoff: Callable[[str], None] | None = None
        #: Called on the loop when another process waits for an owned session's model
        #: document (``read_model``): offer one now, even if the session is paused.
        self.on_model_wanted: Callable[[str], None] | None = None
        self.heartbeat_ok = False
        #: When the heartbeat last came back after failing (monotonic), or None: a Redis
        #: restarted empty knows the sessions again only after every process's next beat.
        self.outage_ended: float | None = None
        self._failed = False
        self.subscriber.on_state = self._stream_state
        self._closing = False

    # --- life cycle ---------------------------------------------------------------------

    async def start(self, require: bool = True) -> None:
        """Start the tasks; with ``require``, raise ``ClusterUnavailable`` if Redis is down."""
        if require:
            await guarded("start", self.redis.ping())
        self._tasks = [
            asyncio.create_task(self.subscriber.run(), name="cluster-subscriber"),
            asyncio.create_task(self.publisher.run(), name="cluster-publisher"),
            asyncio.create_task(self.models.run(), name="cluster-models"),
            asyncio.create_task(self._heartbeat_forever(), name="cluster-heartbeat"),
        ]
        if require:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.subscriber.connected.wait(), 2.0)

    async def close(self) -> None:
        """Stop the tasks, give back what this process holds (best effort), disconnect.

        Cancelled again until they end (within ~5 s): redis-py can lose a cancellation
        that races one of its timeouts; the stop flags end the loops in that case.
        """
        self._closing = True
        self.subscriber.stopping = self.publisher.stopping = self.models.stopping = True
        if not await cancel_and_wait(self._tasks):
            log.warning("cluster tasks still running after close")
        self._tasks = []
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._give_back(), 2.0)
        await self.publisher.close()
        await self.redis.aclose()
        await self._stream_redis.aclose()

    async def _give_back(self) -> None:
        for sid in list(self.directory.owned):
            await self.directory.unregister(sid)
        async with self.redis.pipeline(transaction=False) as pipe:
            for lease_set in self._lease_sets():
                if lease_set.held:
                    pipe.zrem(lease_set.key, *lease_set.held)
            await pipe.execute()

    def _stream_state(self, connected: bool) -> None:
        """The stream subscriber reconnected after an interruption: an outage just ended
        (it may be noticed here before any heartbeat failed)."""
        if connected and self.subscriber.interruptions:
            self.outage_ended = time.monotonic()

    def recovering(self) -> bool:
        """Within one lease period after an outage: an unknown session may just not be
        announced again yet (its process re-registers at its next heartbeat)."""
        ended = self.outage_ended
        return ended is not None and time.monotonic() - ended < self.lease_ttl

    @property
    def available(self) -> bool:
        """Redis answered the last heartbeat and the stream subscriber is connected."""
        return self.heartbeat_ok and self.subscriber.connected.is_set()

    # --- caps ---------------------------------------------------------------------------

    async def try_acquire_session(self, session_id: str, cap: int) -> bool:
        """A place under the global session cap (idempotent for a session already counted)."""
        return await self.sessions.try_acquire(session_id, cap)

    async def release_session(self, session_id: str) -> None:
        await self.sessions.release(session_id)

    async def session_count(self) -> int:
        return await self.sessions.count()

    def _lease_sets(self) -> list[LeaseSet]:
        """Every lease set this process renews at each heartbeat."""
        return [self.sessions, *self._watcher_sets.values(), *self.shares.lease_sets()]

    def new_watcher_id(self) -> str:
        """A watcher id unique across processes (for leases and targeted messages)."""
        return f"{self.process_id}.{next(self._ids)}"

    def _watchers(self, session_id: str) -> LeaseSet:
        found = self._watcher_sets.get(session_id)
        if found is None:
            key = self.keys.watchers(session_id)
            found = LeaseSet(self.redis, self._scripts, key, self.lease_ttl)
            self._watcher_sets[session_id] = found
        return found

    async def try_acquire_watcher(self, session_id: str, watcher_id: str, cap: int) -> bool:
        """A place under the session's watcher cap (local watchers on the owner's too)."""
        return await self._watchers(session_id).try_acquire(watcher_id, cap)

    async def release_watcher(self, session_id: str, watcher_id: str) -> None:
        lease_set = self._watchers(session_id)
        try:
            await lease_set.release(watcher_id)
        finally:
            if not lease_set.held:
                self._watcher_sets.pop(session_id, None)

    async def watcher_count(self, session_id: str) -> int:
        return await self._watchers(session_id).count()

    # --- directory ----------------------------------------------------------------------

    async def register_session(self, session_id: str, watch_token: str) -> None:
        """Announce an owned session (kept alive by the heartbeat until unregistered)."""
        wanted = await self.directory.register(session_id, watch_token)
        if wanted and session_id in self.directory.owned:  # (not dropped meanwhile)
            self.models.want(session_id)  # wanted before it moved here

    async def unregister_session(self, session_id: str) -> None:
        """The session ended here: forget its entries, model and stream state."""
        self.models.forget(session_id)
        self.publisher.forget(session_id)
        await self.directory.unregister(session_id)

    async def lookup_session(self, session_id: str) -> SessionEntry | None:
        return await self.directory.lookup(session_id)

    async def lookup_watch_token(self, token: str) -> SessionEntry | None:
        return await self.directory.by_watch_token(token)

    # --- streams ------------------------------------------------------------------------

    def publish(
        self,
        session_id: str,
        payload: str | bytes,
        slot: str | None = None,
        target: str | None = None,
    ) -> bool:
        """Queue one message of an owned session for remote watchers; never blocks.

        ``payload``: the encoded binary frame or the JSON text as sent to local clients.
        ``slot``: the latest-wins slot (None for messages that must not be dropped).
        ``target``: one remote watcher's id (its catch-up), else every remote watcher.
        False when not queued: nobody elsewhere watches, or Redis is down.
        """
        return self.publisher.publish(session_id, payload, slot, target)

    def is_watched_elsewhere(self, session_id: str) -> bool:
        """Whether publishing would reach anyone (lets the caller skip work). Loop only."""
        return self.publisher.interested(session_id)

    def end_stream(self, session_id: str, code: int, reason: str) -> bool:
        """Close every remote watcher of an owned session with ``code`` (the session ended)."""
        return self.publisher.publish_end(session_id, code, reason)

    async def watch(
        self, entry: SessionEntry, sink: StreamSink, cap: int | None = None
    ) -> RemoteWatch | None:
        """Receive another process's session stream in ``sink``; None if the cap is reached.

        Subscribed before the owner hears of it, so the owner's catch-up (``on_join``) and
        every later message reach ``sink``. ``ClusterUnavailable`` if Redis or the owner's
        process cannot be reached. Call ``unwatch`` when the watcher goes, ended or not.
        """
        watch = RemoteWatch(self.new_watcher_id(), entry.session_id, entry.process, sink)
        if cap is not None and not await self.try_acquire_watcher(entry.session_id, watch.id, cap):
            return None
        try:
            await self.subscriber.add(watch)
            request = {"type": "join", "session": entry.session_id, "watcher": watch.id}
            heard = await guarded(
                "join", self.redis.publish(self.keys.control(entry.process), json.dumps(request))
            )
            if not heard:
                raise ClusterUnavailable("the session's process is not listening")
        except BaseException:
            await self._drop_watch(watch)
            raise
        return watch

    async def unwatch(self, watch: RemoteWatch) -> None:
        """The watcher is gone: unsubscribe if it was the last here, free its cap place."""
        watch.ended = True
        await self._drop_watch(watch)

    async def _drop_watch(self, watch: RemoteWatch) -> None:
        await self.subscriber.remove(watch)
        with contextlib.suppress(ClusterUnavailable):
            await self.release_watcher(watch.session_id, watch.id)

    async def request_handoff(self, entry: SessionEntry) -> bool:
        """Ask the session's process to give it up (False: that process is not listening)."""
        request = json.dumps({"type": "handoff", "session": entry.session_id})
        heard = await guarded(
            "handoff", self.redis.publish(self.keys.control(entry.process), request)
        )
        return bool(heard)

    def forget_session_lease(self, session_id: str) -> None:
        """Stop renewing a session's cap place without removing it: another process that
        took the session over holds the same place (a session id counts once)."""
        self.sessions.held.discard(session_id)

    def _on_control(self, request: dict[str, Any]) -> None:
        kind = request.get("type")
        sid = str(request.get("session"))
        if kind == "handoff":
            if sid in self.directory.owned and self.on_handoff is not None:
                self.on_handoff(sid)
            return
        if kind == "model":
            if sid in self.directory.owned:
                self.models.want(sid)
                if self.on_model_wanted is not None and self.models.first_ask(sid):
                    self.on_model_wanted(sid)
            return
        if kind != "join":
            log.debug("unknown control request %r ignored", kind)
            return
        watcher = str(request.get("watcher"))
        if sid not in self.directory.owned:
            return  # moved away meanwhile: the watcher's heartbeat will notice
        self.publisher.set_interest(sid, True)
        if self.on_join is not None:
            self.on_join(sid, watcher)

    # --- models -------------------------------------------------------------------------

    def offer_model(self, session_id: str, document: str | bytes) -> None:
        """The newest model document of an owned session. Any thread; never blocks."""
        self.models.offer(session_id, document)

    def model_due(self, session_id: str) -> bool:
        """Whether an offered document would be written now: some process wants it and
        the last one is ``interval`` old (else skip building it)."""
        return self.models.due(session_id)

    async def read_model(self, session_id: str) -> bytes | None:
        """A session's current model document (JSON bytes) from any process; None if no
        live process holds the session; ``ClusterUnavailable`` if its owner did not
        write one in time (as when Redis does not answer: try again).

        Documents are written only while wanted (``cluster.models``): a first read asks
        the owner for one and waits up to ``models.FIRST_READ_SECONDS``.
        """
        return await self.models.read(session_id)

    # --- heartbeat ----------------------------------------------------------------------

    async def _heartbeat_forever(self) -> None:
        while not self._closing:
            try:
                await self.refresh()
                if self._failed and not self.heartbeat_ok:
                    self.outage_ended = time.monotonic()
                    log.warning("cluster heartbeat back: Redis reachable again")
                self.heartbeat_ok = True
            except Exception as exc:  # ClusterUnavailable (or a bug): try again next beat
                if self.heartbeat_ok:
                    log.warning("cluster heartbeat failed: %s", exc)
                self.heartbeat_ok = False
                self._failed = True
            await asyncio.sleep(self.heartbeat)

    async def refresh(self) -> None:
        """One heartbeat: renew leases and owned entries, learn interest, check owners."""
        owned_channels = [self.keys.frames(sid) for sid in self.directory.owned]
        watched = {w.session_id: w.owner for w in self.subscriber.watches()}
        async with self.redis.pipeline(transaction=False) as pipe:
            for lease_set in self._lease_sets():
                await lease_set.refresh_into(pipe)
            base = len(pipe.command_stack)
            ids = await self.directory.refresh_into(pipe)
            if owned_channels:
                pipe.pubsub_numsub(*owned_channels)
            for sid in watched:
                pipe.hget(self.keys.session(sid), "process")
            results = await guarded("heartbeat", pipe.execute())
        mine = results[base : base + len(ids)]
        rest = results[base + len(ids) :]
        for sid, ok in zip(ids, mine, strict=True):
            if not ok:
                self._lost(sid)
            elif int(ok) == 2 and sid in self.directory.owned:  # (not dropped meanwhile)
                self.models.want(sid)  # a reader marked it lately
        if owned_channels:
            for channel, count in rest.pop(0):
                if count:
                    sid = channel.decode().rsplit(":", 1)[1]
                    self.publisher.set_interest(sid, True)
        self._check_owners(watched, rest)

    def _lost(self, session_id: str) -> None:
        log.warning("session %s was taken over by another process", session_id)
        self.directory.owned.pop(session_id, None)
        self.models.forget(session_id)
        self.publisher.forget(session_id)
        if self.on_session_lost is not None:
            self.on_session_lost(session_id)

    def _check_owners(self, watched: dict[str, str], owners: list[Any]) -> None:
        for (sid, owner), now in zip(watched.items(), owners, strict=True):
            current = now.decode() if isinstance(now, bytes) else now
            if current == owner:
                continue
            for watch in self.subscriber.watches():
                if watch.session_id == sid:
                    self.subscriber.end_watch(
                        watch, CLOSE_TRY_AGAIN, "the session's process is gone"
                    )
