"""The live sessions' side of several processes sharing one Redis (docs/design.md, "Several processes").

``ClusterLink`` connects one process's ``SessionRegistry`` to its ``Cluster``
(mlp_playground.cluster): the session and watcher caps become leases counted across every
process, each session owned here is announced in the directory (so its watch token and
``/predict`` work on any process), its untargeted outputs are published once, as the bytes
already encoded for the local connections, while some other process watches it, and its
model document is offered about once a second while another process wants it
(``cluster.models``). A session asked for by another process
(its owner reconnected there) is written to the store, then let go.

Redis is never on the training path, and an outage is survived: while the cluster is not
``available`` the caps fall back to this process's own counts and nothing waits for Redis;
the heartbeat re-announces what runs here when it returns. Loop-thread only, except
``offer_model`` (the worker thread) and ``read_model_blocking`` (REST threads).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from mlp_playground.cluster.cluster import Cluster
from mlp_playground.cluster.directory import SessionEntry
from mlp_playground.cluster.errors import ClusterUnavailable, guarded
from mlp_playground.live.connection import CLOSE_POLICY, CLOSE_TRY_AGAIN, Connection
from mlp_playground.live.messages import DATA_REQUEST, ClientMessage
from mlp_playground.live.outgoing import Output, dumps
from mlp_playground.live.session import resume_key_matches

if TYPE_CHECKING:
    from mlp_playground.config import Settings
    from mlp_playground.live.durable import Durability
    from mlp_playground.live.session import LiveSession

log = logging.getLogger("mlp_playground.live")

#: How long a process waits for another to write and release a session it asked for.
HANDOFF_SECONDS = 4.0
#: How long a REST thread waits for a model read: longer than the read's own wait for an
#: owner asked for a document (``cluster.models.FIRST_READ_SECONDS``).
MODEL_READ_SECONDS = 3.0
#: How long a starting process waits for Redis before serving on its own.
STARTUP_WAIT = 3.0
#: The field of a session's directory hash holding the SHA-256 of its owner's resume key.
RESUME_HASH_FIELD = "resume_hash"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LinkedRegistry(Protocol):
    """What the link needs of its registry (``registry.SessionRegistry``, which creates the
    link and so is not imported here)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def durable(self) -> Durability | None: ...

    def get(self, session_id: str) -> LiveSession | None: ...

    def drop(self, session: LiveSession, reason: str, code: int = ...) -> None: ...


class RemoteTarget:
    """A watcher in another process as the target of one session's outputs (its catch-up:
    ``hello``, ``data``, ``reset``): what is pushed to it is published to that watcher only."""

    role = "watcher"

    def __init__(self, cluster: Cluster, session_id: str, watcher_id: str) -> None:
        self.cluster = cluster
        self.session_id = session_id
        self.watcher_id = watcher_id

    def push(self, payload: str | bytes, slot: str | None = None) -> None:
        self.cluster.publish(self.session_id, payload, slot, self.watcher_id)

    def request_close(self, code: int, reason: str = "") -> None:
        """Its process closes it when the stream ends (``Cluster.end_stream``)."""


class ConnectionSink:
    """A local watcher's connection as the sink of a session streamed from another process."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def deliver(self, payload: str | bytes, slot: str | None) -> None:
        self.conn.push(payload, slot)

    def end(self, code: int, reason: str) -> None:
        if code == CLOSE_TRY_AGAIN:
            # Interrupted (Redis or the owner's process is gone): say so, then close 1013.
            self.conn.push(dumps({"type": "error", "code": "unavailable", "message": reason}))
            self.conn.close_after_pending(code, reason)
        else:
            self.conn.request_close(code, reason)


class ClusterLink:
    """One registry's membership of the cluster (created by ``SessionRegistry.start``)."""

    def __init__(self, registry: LinkedRegistry, cluster: Cluster) -> None:
        self.registry = registry
        self.cluster = cluster
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._offered: dict[str, tuple[int, int]] = {}  # session -> (step, generation)
        cluster.on_join = self._on_join
        cluster.on_session_lost = self._on_lost
        cluster.on_handoff = self._on_handoff
        cluster.on_model_wanted = self._on_model_wanted

    async def start(self) -> None:
        """Connect; a Redis that is down now is waited for by the heartbeat, not here."""
        self.loop = asyncio.get_running_loop()
        await self.cluster.start(require=False)
        deadline = time.monotonic() + STARTUP_WAIT
        while not self.cluster.available and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # the first heartbeat: caps are counted from then on
        if not self.cluster.available:
            log.warning("Redis is not reachable yet: sessions are served by this process only")
        if self.registry.settings.database_url.startswith("memory"):
            log.warning(
                "MLPG_DATABASE_URL=memory:// with Redis: sessions cannot resume on another "
                "process (use a shared SQLite file or PostgreSQL)"
            )

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        await self.cluster.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- caps -----------------------------------------------------------------------------

    async def claim_session(self, session: LiveSession) -> bool:
        """A place under the session cap of all processes; True during an outage (the
        local cap still holds)."""
        if not self.cluster.available:
            return True
        try:
            return await self.cluster.try_acquire_session(
                session.id, self.registry.settings.max_sessions
            )
        except ClusterUnavailable:
            return True

    async def claim_share(self, session: LiveSession) -> bool:
        """A place in the session's client's share over every process: its sessions, or
        for a class's student its students; True during an outage (the local share still
        holds)."""
        client = session.client
        if client is None or not self.cluster.available:
            return True
        settings = self.registry.settings
        kind, cap = ("sessions", settings.max_sessions_per_client)
        if session.class_code is not None:
            kind, cap = ("students", settings.max_students_per_client)
        try:
            ok = await self.cluster.shares.try_acquire(client, session.id, cap, kind)
        except ClusterUnavailable:
            return True
        if ok:
            session.share_kind = kind
        return ok

    async def claim_watcher(self, session: LiveSession, conn: Connection) -> bool:
        """A place under the session's watcher cap, counted with the remote watchers."""
        if not self.cluster.available:
            return True
        watcher_id = self.cluster.new_watcher_id()
        try:
            ok = await self.cluster.try_acquire_watcher(
                session.id, watcher_id, self.registry.settings.max_watchers
            )
        except ClusterUnavailable:
            return True
        if ok:
            conn.cluster_id = watcher_id
        return ok

    def release_watcher(self, session: LiveSession, conn: Connection) -> None:
        if conn.cluster_id is not None:
            self._spawn(self._quietly(self.cluster.release_watcher(session.id, conn.cluster_id)))

    @staticmethod
    async def _quietly(coro: Any) -> None:
        with contextlib.suppress(ClusterUnavailable):
            await coro

    # --- the directory --------------------------------------------------------------------

    async def announce(self, session: LiveSession) -> None:
        """This process is the session's home from now on (taking it over if need be)."""
        cluster = self.cluster
        session.watched_elsewhere = partial(cluster.is_watched_elsewhere, session.id)
        session.model_offer = self.offer_model
        if not cluster.available:
            cluster.directory.owned[session.id] = session.watch_token  # heartbeat claims it
            return
        # On failure ``owned`` is set: the heartbeat registers it when Redis is back.
        with contextlib.suppress(ClusterUnavailable):
            await cluster.register_session(session.id, session.watch_token)
            if session.resume_hash is not None:  # beside it, so a taker checks the key first
                await guarded(
                    "resume hash",
                    cluster.redis.hset(
                        cluster.keys.session(session.id), RESUME_HASH_FIELD, session.resume_hash
                    ),
                )

    def forget(self, session: LiveSession, reason: str, code: int) -> None:
        """The session left this process: end its remote streams, give back its entries."""
        self._offered.pop(session.id, None)
        moved = reason in ("moved", "taken over")
        if not moved:
            self.cluster.end_stream(session.id, code, f"session ended: {reason}")
        self._spawn(self._give_back(session, moved))

    async def _give_back(self, session: LiveSession, moved: bool) -> None:
        cluster = self.cluster
        share, kind = session.client, session.share_kind
        if moved:  # the process that took it holds the same cap place
            cluster.forget_session_lease(session.id)
            if share is not None and kind is not None:
                cluster.shares.forget(share, session.id, kind)
            durable = self.registry.durable
            if durable is not None:  # the taker reads the snapshot once the entry is gone
                await durable.settled(session.id, HANDOFF_SECONDS - 1.0)
        try:
            await cluster.unregister_session(session.id)
            if not moved:
                await cluster.release_session(session.id)
                if share is not None and kind is not None:
                    await cluster.shares.release(share, session.id, kind)
        except ClusterUnavailable:
            pass  # the entries and the lease expire by themselves

    async def take_over(self, session_id: str, resume_key: str | None) -> bool:
        """Before resuming ``session_id`` here: if another live process holds it, ask it to
        write its snapshot and let go, and wait (at most ``HANDOFF_SECONDS``) until it has.

        False (nothing asked): that process holds it and ``resume_key`` does not match the
        hash announced beside the entry, so a client with the id alone cannot take the
        session from its owner. An entry without the hash (re-announced after a Redis
        outage) is left to the snapshot's own hash, which the resume checks anyway."""
        if not self.cluster.available:
            return True
        try:
            entry = await self.cluster.lookup_session(session_id)
            if entry is None or entry.process == self.cluster.process_id:
                return True
            stored = await guarded(
                "resume hash",
                self.cluster.redis.hget(self.cluster.keys.session(session_id), RESUME_HASH_FIELD),
            )
            if stored is None:
                stored = await self._snapshot_hash(session_id)
            if not resume_key_matches(resume_key, _text(stored) if stored else None):
                return False
            if not await self.cluster.request_handoff(entry):
                return True  # that process is gone: its last snapshot is all there is
            deadline = time.monotonic() + HANDOFF_SECONDS
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                now = await self.cluster.lookup_session(session_id)
                if now is None or now.process != entry.process:
                    return True
            log.warning("session %s: its process did not let go in time", session_id)
        except ClusterUnavailable:
            return True
        return True

    async def _snapshot_hash(self, session_id: str) -> str | None:
        """The resume-key hash in the session's last snapshot, or None."""
        durable = self.registry.durable
        if durable is None:
            return None
        return await durable.stored_resume_hash(session_id)

    async def find_watched(self, token: str) -> SessionEntry | None:
        """The session a watch token belongs to in another process (ClusterUnavailable)."""
        entry = await self.cluster.lookup_watch_token(token)
        if entry is None and (self.cluster.recovering() or not self.cluster.available):
            raise ClusterUnavailable("Redis is back; sessions are being announced again")
        if entry is None or entry.process == self.cluster.process_id:
            return None
        return entry

    # --- streams --------------------------------------------------------------------------

    def publish(self, session: LiveSession, outputs: list[Output]) -> None:
        """Every untargeted output once more, for the watchers in other processes."""
        if not self.cluster.is_watched_elsewhere(session.id):
            return
        for target, payload, slot in outputs:
            if target is None:
                self.cluster.publish(session.id, payload, slot)

    def _on_join(self, session_id: str, watcher_id: str) -> None:
        """A watcher elsewhere joined: its hello, then (through the worker, in order with
        the queued commands) its data, reset event and a frame."""
        session = self.registry.get(session_id)
        if session is None or session.closed:
            return
        target = RemoteTarget(self.cluster, session_id, watcher_id)
        target.push(session.hello("watcher"))
        session.submit(target, DATA_REQUEST, activity=False)  # type: ignore[arg-type]
        session.want_frame()

    def _on_lost(self, session_id: str) -> None:
        self._let_go(session_id, "taken over")

    def _on_handoff(self, session_id: str) -> None:
        self._let_go(session_id, "moved")

    def _let_go(self, session_id: str, reason: str) -> None:
        """The session now lives in another process: its watchers here reconnect (1013)
        and find it there; an owner still connected here is replaced, as by a second tab
        (1008, never retried, so two tabs do not take the session back and forth)."""
        session = self.registry.get(session_id)
        if session is None:
            return
        for conn in session.watchers:
            conn.request_close(CLOSE_TRY_AGAIN, "the session moved to another process")
        self.registry.drop(session, reason, CLOSE_POLICY)

    # --- models ---------------------------------------------------------------------------

    def offer_model(self, session: LiveSession, force: bool = False) -> None:
        """Worker thread: the session's model for ``/predict`` elsewhere, while another
        process wants it, when it changed and the last one is about a second old
        (``Cluster.model_due``); ``force``: a reader is waiting for one, write it anyway."""
        sid = session.id
        if sid not in self.cluster.directory.owned:
            return  # dropped, or moved away: a late command must not write its key again
        key = (session.trainer.step, session.generation)
        if not force and (self._offered.get(sid) == key or not self.cluster.model_due(sid)):
            return
        self._offered[sid] = key
        document = json.dumps(session.trainer.model_document())
        self.cluster.offer_model(sid, document)

    def _on_model_wanted(self, session_id: str) -> None:
        """Another process waits for a document (loop): the worker offers one between two
        steps, so that even a paused session's reaches it."""
        session = self.registry.get(session_id)
        if session is not None and not session.closed:
            session.submit(None, ClientMessage("_offer_model", {}), activity=False)

    def read_model_blocking(self, session_id: str) -> dict[str, Any] | None:
        """From a REST thread: the model document of a session in another process, or None.
        Raises ``ClusterUnavailable`` when Redis cannot be asked."""
        if self.loop is None:
            return None
        future = asyncio.run_coroutine_threadsafe(self.cluster.read_model(session_id), self.loop)
        try:
            raw = future.result(MODEL_READ_SECONDS)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise ClusterUnavailable("Redis did not answer in time") from exc
        return json.loads(raw) if raw is not None else None
