"""Durable sessions: when snapshots are taken, one writer per process, the idle sweep,
and reading a snapshot back for a resume (docs/design.md, "Saved runs and durable sessions").

When: a session is snapshotted when it pauses (the worker takes it right after the pause,
see ``run_commands.take_snapshot``), when its owner disconnects, when it leaves memory
after its grace period, on shutdown (every session, before the worker stops), and every
``snapshot_interval_seconds`` while it trains (one ticker task for all sessions). A state
that did not change since its last snapshot (``snapshot.state_key``) is not taken again.

Threads: the worker copies the state (``snapshot.capture``) and hands it to ``arrived``
through the loop; the loop keeps only the newest copy per session (``_pending``: a slow
disk coalesces writes, never queues them), and one writer task encodes and writes them one
at a time in a thread (``asyncio.to_thread``): the store blocks, and neither the training
thread nor the event loop may. A session is written at most once per ``MIN_WRITE_GAP``
unless it is leaving (final snapshot, forget, shutdown), so a client toggling play/pause
cannot turn into a write storm.

Forgetting: a session that ends for good (idle timeout) has its snapshot forgotten, in
order with its writes; a snapshot nobody resumed is forgotten by the sweep once it is
older than ``idle_timeout_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from mlp_playground.config import Settings
from mlp_playground.live.messages import ClientMessage
from mlp_playground.live.session import resume_key_matches
from mlp_playground.live.snapshot import Captured, SnapshotError, decode, encode, restore, state_key
from mlp_playground.live.state import SessionState
from mlp_playground.store.base import SnapshotRefused, Store
from mlp_playground.tasks import cancel_and_wait

if TYPE_CHECKING:
    from mlp_playground.live.session import LiveSession

log = logging.getLogger("mlp_playground.live")

MIN_WRITE_GAP = 0.2
"""Seconds between two writes of one session's snapshot (unless it is leaving)."""
FORGOTTEN_MEMORY = 60.0
"""Seconds a forgotten id is remembered, so a copy still on its way is not written back."""
SETTLE_TIMEOUT = 5.0


class ResumeForbidden(Exception):
    """A resume of an existing session without its owner's resume key."""


class Durability:
    """The snapshots of one process's sessions (owned by the registry, on its loop)."""

    def __init__(
        self, settings: Settings, store: Store, sessions: Callable[[], Iterable[LiveSession]]
    ) -> None:
        self.settings = settings
        self.store = store
        self._sessions = sessions
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[str, Captured | None] = {}  # newest copy per id; None: forget
        self._urgent: set[str] = set()  # pending ids written without waiting MIN_WRITE_GAP
        self._busy: set[str] = set()  # ids being written now
        self._awaiting: set[str] = set()  # final copies asked for, not arrived yet
        self._forgotten: dict[str, float] = {}
        self._last_write: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()  # set (and replaced) whenever a write ends
        self._tasks: list[asyncio.Task[None]] = []
        self._shutting_down = False
        #: Where the writes' time and bytes go (bench/snapshots.py prints them).
        self.counters: dict[str, float] = {
            "captures": 0,
            "capture_seconds": 0.0,  # on the worker
            "writes": 0,
            "bytes": 0,
            "seconds": 0.0,  # encoding and writing, in the writer's thread
            "forgets": 0,
            "refused": 0,  # over a snapshot cap (store.base.snapshot_evictions)
            "evicted": 0,  # ownerless snapshots dropped to make room
        }
        self._refused: set[str] = set()  # ids whose last snapshot was refused (logged once)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer, the ticker and the sweeper on the running loop."""
        if self._tasks:
            return
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._write_forever()),
            asyncio.create_task(self._tick_forever()),
            asyncio.create_task(self._sweep_forever()),
        ]

    async def snapshot_all(self, sessions: list[LiveSession], timeout: float) -> bool:
        """Shutdown: a final snapshot of every session, written before this returns
        (True) or when ``timeout`` seconds ran out (False)."""
        self._shutting_down = True
        for session in sessions:
            self.request(session, final=True)
        ids = {s.id for s in sessions}
        return await self._wait(
            lambda: not (ids & (self._awaiting | self._busy)) and not (ids & set(self._pending)),
            timeout,
        )

    def summary(self) -> str:
        c = self.counters
        return (
            f"captures={c['captures']:.0f} capture_ms={c['capture_seconds'] * 1e3:.1f} "
            f"writes={c['writes']:.0f} write_ms={c['seconds'] * 1e3:.1f} "
            f"bytes={c['bytes']:.0f} forgets={c['forgets']:.0f} "
            f"refused={c['refused']:.0f} evicted={c['evicted']:.0f}"
        )

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        if not await cancel_and_wait(tasks):
            log.warning("snapshot tasks did not stop")

    # --- requests (loop) ------------------------------------------------------------------

    def attach(self, session: LiveSession) -> None:
        """A session the worker may take snapshots of from now on."""
        session.snapshot_sink = partial(self._from_worker, session.id, session.resume_hash)

    def request(self, session: LiveSession, final: bool = False, force: bool = False) -> None:
        """Ask the worker for a snapshot (skipped if nothing changed, unless ``final`` or
        ``force``: the owner left, and the stored copy must say it is ownerless now)."""
        if session.snapshot_sink is None:
            return
        if final:
            self._awaiting.add(session.id)
        args = {"force": final or force, "final": final}
        session.submit(None, ClientMessage("_snapshot", args), activity=False)

    def forget(self, session: LiveSession) -> None:
        """The session ended for good: drop its snapshot (after any write in progress)."""
        session.snapshot_sink = None
        self._awaiting.discard(session.id)
        self._refused.discard(session.id)
        self._forgotten[session.id] = time.monotonic()
        self._enqueue(session.id, None, urgent=True)

    # --- worker -> loop -------------------------------------------------------------------

    def _from_worker(
        self, sid: str, resume_hash: str | None, captured: Captured | None, final: bool
    ) -> None:
        """Worker thread: hand a copy to the loop, with the hash of the owner's resume key
        (only the hash: a snapshot read back by anyone resumes nothing). ``None``: the
        session has nothing worth keeping (it never trained), so its snapshot is forgotten."""
        if captured is not None:
            captured.meta["resume_hash"] = resume_hash
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._arrived, sid, captured, final)

    def _arrived(self, sid: str, captured: Captured | None, final: bool) -> None:
        if captured is not None:
            self.counters["captures"] += 1
            self.counters["capture_seconds"] += captured.seconds
        if final:
            self._awaiting.discard(sid)
        if sid in self._forgotten:
            return
        self._enqueue(sid, captured, urgent=final or self._shutting_down)

    def _enqueue(self, sid: str, item: Captured | None, urgent: bool) -> None:
        self._pending[sid] = item
        if urgent:
            self._urgent.add(sid)
        self._wake.set()
        self._notify()

    # --- waiting --------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def busy_with(self, sid: str) -> bool:
        return sid in self._pending or sid in self._busy or sid in self._awaiting

    async def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.1))
        return True

    async def settled(self, sid: str, timeout: float = SETTLE_TIMEOUT) -> bool:
        """Wait until the snapshot of ``sid`` on disk is its newest (nothing in flight)."""
        return await self._wait(lambda: not self.busy_with(sid), timeout)

    # --- the writer -----------------------------------------------------------------------

    def _next(self, now: float) -> tuple[str | None, float]:
        """The next id to write, or None and how long until one may be written."""
        wait = 3600.0
        for sid in self._pending:
            if sid in self._busy:
                continue
            due = self._last_write.get(sid, 0.0) + MIN_WRITE_GAP
            if sid in self._urgent or self._shutting_down or due <= now:
                return sid, 0.0
            wait = min(wait, due - now)
        return None, wait

    async def _write_forever(self) -> None:
        while True:
            sid, wait = self._next(time.monotonic())
            if sid is None:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            item = self._pending.pop(sid)
            self._urgent.discard(sid)
            self._busy.add(sid)
            try:
                await asyncio.to_thread(self._write, sid, item)
            except Exception:  # a full disk, a lost database: the session goes on
                log.exception("session %s: snapshot write failed", sid)
            finally:
                self._busy.discard(sid)
                self._last_write[sid] = time.monotonic()
                self._notify()

    def _write(self, sid: str, item: Captured | None) -> None:
        """Writer thread: encode and write (or forget) one session's snapshot."""
        t0 = time.perf_counter()
        if item is None:
            self.store.forget_snapshot(sid)
            self.counters["forgets"] += 1
            self._last_write.pop(sid, None)
            return
        data = encode(item)
        c = self.counters
        try:
            gone = self.store.write_snapshot(
                sid, data, item.store_meta(), client=item.client, owned=item.owned
            )
        except SnapshotRefused as exc:
            c["refused"] += 1
            if sid not in self._refused:  # once per session: the ticker retries every 5 s
                self._refused.add(sid)
                log.warning("session %s: no snapshot kept: %s", sid, exc)
            return
        self._refused.discard(sid)
        c["writes"] += 1
        c["bytes"] += len(data)
        c["evicted"] += len(gone)
        c["seconds"] += time.perf_counter() - t0

    # --- periodic work --------------------------------------------------------------------

    async def _tick_forever(self) -> None:
        """Every interval, a snapshot of every session that changed (training ones do)."""
        while True:
            await asyncio.sleep(self.settings.snapshot_interval_seconds)
            for session in list(self._sessions()):
                if not session.closed and (
                    session.running or state_key(session) != session.snapshot_key
                ):
                    self.request(session)

    async def _sweep_forever(self) -> None:
        """Forget snapshots nobody resumed within the idle timeout."""
        idle = self.settings.idle_timeout_seconds
        while True:
            await asyncio.sleep(min(60.0, max(0.5, idle / 4)))
            now = time.monotonic()
            for sid, t in list(self._forgotten.items()):
                if now - t > FORGOTTEN_MEMORY:
                    del self._forgotten[sid]
            try:
                await self.sweep()
            except Exception:
                log.exception("snapshot sweep failed")

    async def sweep(self) -> int:
        """One sweep: forget every stale snapshot of a session not in memory; how many."""
        cutoff = time.time() - self.settings.idle_timeout_seconds
        stale = await asyncio.to_thread(self.store.snapshot_ids, cutoff)
        live = {s.id for s in self._sessions()}
        gone = [sid for sid in stale if sid not in live and not self.busy_with(sid)]
        for sid in gone:
            self._enqueue(sid, None, urgent=True)
        return len(gone)

    # --- resume ---------------------------------------------------------------------------

    async def stored_resume_hash(self, sid: str) -> str | None:
        """The resume-key hash in ``sid``'s stored snapshot (None: no snapshot, or none
        readable): for a check before a session is asked from another process."""
        snap = await asyncio.to_thread(self.store.read_snapshot, sid)
        if snap is None:
            return None
        try:
            found = (await asyncio.to_thread(decode, snap.data, True)).meta.get("resume_hash")
        except SnapshotError:
            return None
        return str(found) if found else None

    async def read(
        self, sid: str, limits: Mapping[str, Any], resume_key: str | None = None
    ) -> tuple[SessionState, str] | None:
        """The restored state and watch token of ``sid``'s snapshot, or None (none, or it
        does not restore: logged, and the caller starts a fresh session instead).

        ``ResumeForbidden`` if the snapshot exists but ``resume_key`` is not its owner's
        (checked before the state is rebuilt; a snapshot without a hash resumes nobody)."""
        await self.settled(sid)
        snap = await asyncio.to_thread(self.store.read_snapshot, sid)
        if snap is None:
            return None

        def build() -> tuple[SessionState, str]:
            # The key first, from the meta alone: a wrong key costs no arrays' inflating.
            if not resume_key_matches(resume_key, decode(snap.data, True).meta.get("resume_hash")):
                raise ResumeForbidden(sid)
            decoded = decode(snap.data)
            return restore(decoded, limits), str(decoded.meta["watch_token"])

        try:
            return await asyncio.to_thread(build)
        except (SnapshotError, KeyError) as exc:
            log.warning("session %s: snapshot not restored: %s", sid, exc)
            return None
