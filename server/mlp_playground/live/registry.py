"""The session registry: creates, finds, resumes and drops live sessions.

It lives on the event loop (``app.state.registry``) and owns the scheduler's worker thread
and a reaper task. Sessions count toward ``settings.max_sessions`` from creation until
they are dropped, including their grace period without an owner. Ids, watch tokens and
resume keys come from ``secrets.token_urlsafe``. The id is public (rosters, frames, logs);
the resume key (``hello``'s ``resume_key``, 192 random bits) is what makes you its owner,
and only its SHA-256 leaves memory (snapshots, the cluster directory).

Fair shares (``share_refusal``): a client (``client_address``) may hold at most
``max_sessions_per_client`` sessions that are not a class's students and
``max_students_per_client`` that are, those in their grace period included (counted for
the address that created them, over every process with Redis), so one client cannot fill
the server by opening sockets, by churning them, or by joining its own class as many
students. And the last places are kept for the students of open classes: an ordinary
session may not take one of the ``reserved`` places (each claimed class's
``max_students_per_class`` minus its students now in memory, summed, at most half of
``max_sessions``; the route computes it from the classes).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import time
from typing import TYPE_CHECKING, Any

from mlp_playground.config import Settings
from mlp_playground.live.connection import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_TRY_AGAIN,
    Connection,
)
from mlp_playground.live.durable import Durability, ResumeForbidden
from mlp_playground.live.handoff import LoopHandoff
from mlp_playground.live.outgoing import Output
from mlp_playground.live.scheduler import Scheduler
from mlp_playground.live.session import LiveSession
from mlp_playground.store.base import Store
from mlp_playground.tasks import cancel_and_wait

if TYPE_CHECKING:
    from mlp_playground.live.cluster_link import ClusterLink

log = logging.getLogger("mlp_playground.live")

REAP_INTERVAL = 0.25
ADMIT_SECONDS = 10.0
"""A new or restored session waits at least this long for its first owner, whatever the
grace period: the route awaits (the cluster's counts, a class's store) between creating
it and attaching the owner, and with a grace period of 0 the reaper dropped it there."""
SWITCH_INTERVAL = 0.001
SHUTDOWN_SNAPSHOT_SECONDS = 10.0
#: How a session leaving memory treats its snapshot (live.durable): "final" writes a last
#: one (it may be resumed later), "forget" drops it (it ended for good); other reasons
#: (shutdown: every session was just written) leave it as it is.
SNAPSHOT_ON_DROP = {
    "grace period over": "final",
    "disconnected": "final",
    "moved": "final",  # another process asked for it (cluster_link): it resumes there
    "idle": "forget",
}


def limit_blas_threads() -> Any:
    """One BLAS thread for the whole process (measured: a 100x100 grid pass 7.4 -> 2.1 ms).

    Every matrix here is tiny (at most 40,000 x 256 by 256 x 256), so OpenBLAS's thread
    start-up costs more than it saves; and on a small server its threads fight the
    training worker and the event loop for the same cores. ``OPENBLAS_NUM_THREADS`` set by
    the operator wins: nothing is changed then.
    """
    if any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")):
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its default thread count
        return None
    return threadpool_limits(limits=1, user_api="blas")


class SessionRegistry:
    """All live sessions of one app; ``start()``/``close()`` run in the app's lifespan."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        #: Snapshots of the sessions, once a store is known (``use_store``).
        self.durable: Durability | None = None
        self.sessions: dict[str, LiveSession] = {}
        self._by_token: dict[str, LiveSession] = {}
        self.scheduler = Scheduler()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The worker's (and frame thread's) payloads to the loop, one wake-up per batch.
        self._outbox: LoopHandoff[tuple[LiveSession, list[Output]]] = LoopHandoff(
            lambda item: self._fan_out(*item)
        )
        self._reaper: asyncio.Task[None] | None = None
        self._closing = False
        self._unscheduled: set[str] = set()  # restored sessions waiting for their owner
        self._admitting: set[str] = set()  # being counted in the cluster: not reaped yet
        self._awaiting_owner: set[str] = set()  # created or restored, no owner attached yet
        self._watchers_of: dict[str, int] = {}  # client address -> its watcher sockets here
        #: Membership of the processes sharing ``settings.redis_url`` (None: this process
        #: is the whole server, and nothing here touches Redis).
        self.link: ClusterLink | None = None
        if store is not None:
            self.use_store(store)

    async def start(self) -> None:
        self._blas_limit = limit_blas_threads()
        # The training thread holds the GIL almost all the time; a thread that wants it (the
        # frame thread between two NumPy calls, the event loop after a select) waits up to
        # one switch interval each time. 1 ms instead of 5 ms: 30 sessions' frames/s +50%.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._loop = asyncio.get_running_loop()
        self._outbox.bind(self._loop)
        self.scheduler.hand_off = self._outbox.wake
        self.scheduler.start()
        self._reaper = asyncio.create_task(self._reap_forever())
        if self.durable is not None:
            self.durable.start()
        if self.settings.redis_url:
            from mlp_playground.cluster.cluster import Cluster
            from mlp_playground.live.cluster_link import ClusterLink

            cluster = Cluster(self.settings.redis_url, prefix=self.settings.redis_prefix)
            self.link = ClusterLink(self, cluster)
            await self.link.start()

    def use_store(self, store: Store) -> None:
        """Snapshot sessions into ``store`` from now on (the first call wins)."""
        if self.durable is not None or self._closing:
            return
        self.durable = Durability(self.settings, store, lambda: list(self.sessions.values()))
        for session in self.sessions.values():
            self.durable.attach(session)
        if self._loop is not None:
            self.durable.start()

    async def close(self) -> None:
        """Drop every session, stop the reaper and the worker thread (within 5 s)."""
        self._closing = True
        if self.durable is not None:  # every session is written before any is dropped
            sessions = [s for s in self.sessions.values() if s.id not in self._unscheduled]
            if not await self.durable.snapshot_all(sessions, SHUTDOWN_SNAPSHOT_SECONDS):
                log.warning("shutdown: snapshots not all written within the time allowed")
            log.info("snapshots: %s", self.durable.summary())
        for session in list(self.sessions.values()):
            self.drop(session, "shutdown", CLOSE_GOING_AWAY)
        if self.durable is not None:
            await self.durable.close()
        if self.link is not None:
            await self.link.close()
        if self._reaper is not None:
            await cancel_and_wait([self._reaper])
        stopped = await asyncio.to_thread(self.scheduler.stop, 5.0)
        if not stopped:
            log.warning("live worker did not stop within 5 s")

    # --- lookups --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.sessions)

    def get(self, session_id: str) -> LiveSession | None:
        return self.sessions.get(session_id)

    def by_watch_token(self, token: str) -> LiveSession | None:
        return self._by_token.get(token)

    def remote_model(self, session_id: str) -> dict[str, Any] | None:
        """From a REST thread: the model document of a session held by another process (at
        most about a second old), or None. ``ClusterUnavailable`` if Redis cannot be asked."""
        return self.link.read_model_blocking(session_id) if self.link is not None else None

    def get_trainer(self, session_id: str) -> Any:
        """The Trainer of a live session, or None (for REST ``/predict {"session": id}``).

        The worker thread may be stepping this trainer at the same moment: a prediction
        reads weights that are being updated in place (harmless for a preview), but must
        not hold on to the arrays.
        """
        session = self.sessions.get(session_id)
        return session.trainer if session is not None else None

    # --- lifecycle ------------------------------------------------------------------------

    def client_sessions(self, client: str, students: bool = False) -> int:
        """How many sessions ``client`` created that are not a class's students (or, with
        ``students``, that are), those without an owner in their grace period included."""
        return sum(
            1
            for s in self.sessions.values()
            if s.client == client and (s.class_code is not None) == students
        )

    def share_refusal(self, client: str, student: bool = False, reserved: int = 0) -> str | None:
        """Why ``client`` may not have one more session now (a sentence for the
        ``too_many_sessions`` error), or None. ``student``: the new session joins an open
        class, and counts against the client's share of students
        (``max_students_per_client``, separate so that a school behind one address raises
        it alone) rather than its ordinary sessions; ``reserved``: places kept for students
        of open classes (capped here at half of ``max_sessions``)."""
        cap = self.settings.max_sessions
        if self.client_sessions(client, student) >= self._share_cap(student):
            return self._over_share(student)
        if student:
            return None  # the server cap itself is checked by ``create``
        reserved = max(0, min(reserved, cap // 2))
        if reserved and len(self.sessions) >= cap - reserved:
            return (
                f"the server's last {reserved} places are kept for students of open classes; "
                "try again later"
            )
        return None

    def _share_cap(self, student: bool) -> int:
        s = self.settings
        return s.max_students_per_client if student else s.max_sessions_per_client

    def _over_share(self, student: bool = False) -> str:
        cap = self._share_cap(student)
        if student:
            return (
                f"this address already has {cap} students in classes "
                "(max_students_per_client); a school behind one address raises it"
            )
        return (
            f"this address already has {cap} live sessions (max_sessions_per_client); "
            "close one, or wait for a closed one's grace period to end"
        )

    async def claim_share(self, session: LiveSession) -> str | None:
        """Count an owned session in its client's share over every process, once it is
        known whether it is a class's student (after ``enrol`` or a resume into its class).
        A refusal (the sentence for ``too_many_sessions``) drops the session if it has no
        owner yet; None: counted (or nothing to count: one process, a student)."""
        if self.link is None or await self.link.claim_share(session):
            return None
        if session.owner is None:
            self.drop(session, "over its client's share", CLOSE_TRY_AGAIN)
        return self._over_share(session.class_code is not None)

    def create(self, client: str | None = None) -> LiveSession | None:
        """A new session without an owner yet, or None when the cap is reached."""
        if self._closing or len(self.sessions) >= self.settings.max_sessions:
            return None
        session = LiveSession(
            secrets.token_urlsafe(16),
            secrets.token_urlsafe(16),
            self.settings,
            self._deliver,
            self.scheduler.wake,
            resume_key=secrets.token_urlsafe(24),
        )
        session.client = client
        self._register(session)
        log.info("live session start id=%s sessions=%d", session.id, len(self.sessions))
        return session

    async def open_session(self, client: str | None = None) -> LiveSession | None:
        """A new session (``create``) that also fits under the cap of every process."""
        session = self.create(client)
        if session is not None and not await self._join_cluster(session):
            return None
        return session

    async def _join_cluster(self, session: LiveSession) -> bool:
        """Count the session in the cluster and announce it; False (dropped): no place.

        The reaper leaves it alone meanwhile: it has no owner yet, and with a zero grace
        period it would otherwise be dropped during these awaits."""
        if self.link is None:
            return True
        self._admitting.add(session.id)
        try:
            if not await self.link.claim_session(session):
                self.drop(session, "server full", CLOSE_TRY_AGAIN)
                return False
            await self.link.announce(session)
        finally:
            self._admitting.discard(session.id)
            session.orphaned_at = time.monotonic() if session.owner is None else None
        return not session.closed

    def hold_watcher_place(self, client: str) -> bool:
        """One more watcher socket for ``client`` in this process, unless it holds
        ``max_watchers_per_client`` (then False); give it back with ``release_watcher_place``."""
        held = self._watchers_of.get(client, 0)
        if held >= self.settings.max_watchers_per_client:
            return False
        self._watchers_of[client] = held + 1
        return True

    def release_watcher_place(self, client: str) -> None:
        held = self._watchers_of.get(client, 0) - 1
        if held > 0:
            self._watchers_of[client] = held
        else:
            self._watchers_of.pop(client, None)

    async def admit_watcher(self, session: LiveSession, conn: Connection) -> bool:
        """Add a watcher if the session has fewer than ``max_watchers`` (on every process)."""
        if len(session.watchers) >= self.settings.max_watchers:
            return False
        if self.link is not None and not await self.link.claim_watcher(session, conn):
            return False
        session.watchers.add(conn)
        return True

    def _register(self, session: LiveSession, schedule: bool = True) -> None:
        self.sessions[session.id] = session
        self._awaiting_owner.add(session.id)
        self._by_token[session.watch_token] = session
        if self.durable is not None:
            self.durable.attach(session)
        if schedule:
            self.scheduler.add(session)
        else:
            self._unscheduled.add(session.id)

    async def restore(
        self, session_id: str, resume_key: str | None = None, client: str | None = None
    ) -> LiveSession | None:
        """The session ``session_id`` recreated from its snapshot (after a restart, or
        after its grace period), or None: no snapshot, or the cap is reached.

        ``ResumeForbidden`` if the session exists (held by another process, or in the
        store) and ``resume_key`` is not its owner's: nothing of it is touched then."""
        durable = self.durable
        if durable is None or self._closing or len(self.sessions) >= self.settings.max_sessions:
            return None
        # Another process lets go of it first, if the key is its owner's.
        if (
            self.link is not None
            and session_id not in self.sessions
            and not await self.link.take_over(session_id, resume_key)
        ):
            raise ResumeForbidden(session_id)
        limits = {**self.settings.limits(), "max_points_train": self.settings.max_live_points}
        restored = await durable.read(session_id, limits, resume_key)
        if restored is None:
            return None
        existing = self.sessions.get(session_id)  # resumed by another connection meanwhile
        if existing is not None:
            return existing
        if self._closing or len(self.sessions) >= self.settings.max_sessions:
            return None
        state, token = restored
        session = LiveSession(
            session_id,
            token,
            self.settings,
            self._deliver,
            self.scheduler.wake,
            resume_key=resume_key,  # checked against the snapshot's hash by ``read``
        )
        session.client = client
        session.state = state
        if state.running:
            session.pacer.restart_speed(time.monotonic(), state.trainer.step)
        # Not trained before its owner has the hello with the snapshot's step: scheduled
        # by attach_owner, after the route's synchronous hello.
        self._register(session, schedule=False)
        if not await self._join_cluster(session):
            return None
        log.info(
            "live session restored id=%s step=%d sessions=%d",
            session.id,
            state.trainer.step,
            len(self.sessions),
        )
        return session

    def attach_owner(self, session: LiveSession, conn: Connection) -> None:
        """Make ``conn`` the owner; a previous owner connection is closed (1008)."""
        if session.owner is not None and session.owner is not conn:
            session.owner.request_close(1008, "session resumed by another connection")
        session.owner = conn
        session.orphaned_at = None
        self._awaiting_owner.discard(session.id)
        if session.id in self._unscheduled and self._loop is not None:
            # The route sends the hello right after this call, without awaiting; the
            # callback runs after it, so the first step follows the hello.
            self._unscheduled.discard(session.id)
            self._loop.call_soon(self._schedule, session)
        session.last_activity = time.monotonic()
        session.want_frame(at_once=True)
        self.scheduler.wake()

    def detach(self, session: LiveSession, conn: Connection) -> None:
        """A connection ended: an owner leaves the session to its grace period."""
        if session.owner is conn:
            session.owner = None
            session.orphaned_at = time.monotonic()
            if self.durable is not None and not self._closing:
                self.durable.request(session, force=True)  # the owner left: now ownerless
            if self.settings.session_grace_seconds <= 0:
                self.drop(session, "disconnected")
        else:
            session.watchers.discard(conn)
            if self.link is not None:
                self.link.release_watcher(session, conn)

    def drop(self, session: LiveSession, reason: str, code: int = CLOSE_NORMAL) -> None:
        """Remove a session and close its connections."""
        if session.closed:
            return
        session.closed = True
        self._awaiting_owner.discard(session.id)
        session.running = False
        then = SNAPSHOT_ON_DROP.get(reason) if self.durable is not None else None
        if session.id in self._unscheduled:  # restored but never run: its snapshot stands
            self._unscheduled.discard(session.id)
            then = None
        if then == "final" and self.durable is not None:
            # The worker takes it after the commands still queued, then lets it go.
            self.durable.request(session, final=True)
        else:
            self.scheduler.remove(session)
            if then == "forget" and self.durable is not None:
                self.durable.forget(session)
        self.sessions.pop(session.id, None)
        self._by_token.pop(session.watch_token, None)
        if self.link is not None:
            self.link.forget(session, reason, code)
        for conn in session.connections:
            conn.request_close(code, f"session ended: {reason}")
        log.info(
            "live session end id=%s reason=%s steps=%d seconds=%.1f sessions=%d",
            session.id,
            reason,
            session.trainer.step,
            time.monotonic() - session.created,
            len(self.sessions),
        )

    def _schedule(self, session: LiveSession) -> None:
        if not session.closed:
            self.scheduler.add(session)

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL)
            self.reap(time.monotonic())

    def reap(self, now: float) -> None:
        """Drop sessions past their grace period or idle for too long."""
        grace = self.settings.session_grace_seconds
        idle = self.settings.idle_timeout_seconds
        for session in list(self.sessions.values()):
            if session.id in self._admitting:
                continue
            wait = max(grace, ADMIT_SECONDS) if session.id in self._awaiting_owner else grace
            if session.orphaned_at is not None and now - session.orphaned_at >= wait:
                self.drop(session, "grace period over")
            elif now - session.last_activity >= idle:
                self.drop(session, "idle")

    # --- worker -> loop -------------------------------------------------------------------

    def _deliver(self, session: LiveSession, outputs: list[Output]) -> None:
        """Worker or frame thread: hand payloads to the loop, which fans them out. The
        training thread's payloads wait for the end of its turn (``live.handoff`` says why)."""
        self._outbox.put((session, outputs), wake=not self.scheduler.in_turn())

    def _fan_out(self, session: LiveSession, outputs: list[Output]) -> None:
        if session.closed:
            return
        targets = session.connections
        for target, payload, slot in outputs:
            if target is not None:
                target.push(payload, slot)
            else:
                for conn in targets:
                    conn.push(payload, slot)
        if self.link is not None:  # the same bytes, once, for watchers in other processes
            self.link.publish(session, outputs)
