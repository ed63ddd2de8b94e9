"""Classes: codes to read aloud, the teacher's secret, the students' sessions, the caps.

A class is a row of the store (``store.classes``): code, SHA-256 of the teacher's token,
title, times, members (student session id -> nickname). Every process sharing the database
knows it, a restarted one too: the token still works and a student's session resumed from
its snapshot is back in its class. Each process caches the classes it met, re-read from the
store every ``REVALIDATE`` seconds (a class ended elsewhere ends here by then, at once when
Redis announces it). A class is over when ``class_lifetime_seconds`` have passed, when its
teacher ends it (``DELETE /classes/{code}``), or when no teacher came within
``class_claim_seconds``.

``Classroom.students`` holds the members whose sessions are in this process: ordinary live
sessions (``mlp_playground.live.registry``) marked with ``class_code`` and
``student_name``, so resuming, pacing and the grace period work for students unchanged.
The students of other processes reach the teacher's wall through ``classroom.class_link``.
Everything here runs on the event loop; the store is called in a thread.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlp_playground.classroom.names import (
    GuessCounter,
    TooManyGuesses,
    name_key,
    new_code,
    normalize_code,
    plausible_code,
)
from mlp_playground.classroom.thumbnails import ThumbnailSink
from mlp_playground.config import Settings
from mlp_playground.store.base import StoreError, client_key, hash_token
from mlp_playground.store.classes import (
    ClassCapReached,
    ClassMember,
    ClassRow,
    ClassStore,
    MemoryClasses,
)

if TYPE_CHECKING:
    from mlp_playground.classroom.peers import ClassPeers
    from mlp_playground.live.registry import SessionRegistry
    from mlp_playground.live.session import LiveSession

log = logging.getLogger("mlp_playground.classroom")

#: Seconds a cached class is trusted before the store is asked again.
REVALIDATE = 5.0


class ClassroomsFull(Exception):
    """``max_classrooms`` classes are open (POST /classes answers 507)."""


class TooManyClasses(Exception):
    """This client already has ``max_classrooms_per_client`` open classes (429);
    ``retry_after`` seconds until the first of them ends or is reclaimed unclaimed."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Classroom:
    """One class as this process knows it; ``students`` are its members held here."""

    code: str
    token_hash: str  # SHA-256 hex of the teacher's token: the token itself is never kept
    title: str | None
    created: float  # seconds since the epoch, as every time here
    expires: float
    students: dict[str, str] = field(default_factory=dict)
    sink: ThumbnailSink = field(default_factory=ThumbnailSink)
    #: ``client_key`` of the address that opened it (``max_classrooms_per_client``).
    creator: str = ""
    #: By when a teacher must have connected, or the class is reclaimed.
    claim_by: float = float("inf")
    #: A teacher has connected once (the class is no longer reclaimable as abandoned).
    claimed: bool = False
    #: Ended by its teacher (``DELETE /classes/{code}``, on any process): gone at once.
    ended: bool = False
    clock: Callable[[], float] = time.time
    #: time.monotonic() of the last read from the store.
    checked: float = field(default_factory=time.monotonic)

    @classmethod
    def from_row(cls, row: ClassRow, clock: Callable[[], float]) -> Classroom:
        return cls(
            code=row.code,
            token_hash=row.token_hash,
            title=row.title,
            created=row.created,
            expires=row.expires,
            creator=row.client,
            claim_by=row.claim_by,
            claimed=row.claimed,
            ended=row.ended,
            clock=clock,
        )

    def token_ok(self, token: str | None) -> bool:
        """Constant-time comparison of the hashes: timing tells nothing of the token."""
        if not token:
            return False
        return hmac.compare_digest(hash_token(token), self.token_hash)

    def expired(self, now: float | None = None) -> bool:
        """Over: ended, past its lifetime, or never claimed by a teacher in time."""
        now = self.clock() if now is None else now
        return self.ended or now >= self.expires or (not self.claimed and now >= self.claim_by)

    def expires_in(self) -> float:
        return max(0.0, self.expires - self.clock())


async def _blocking(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


class ClassRegistry:
    """The classes this process met (a cache of the store's), and their local students."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        store: ClassStore | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store: ClassStore = store or MemoryClasses()
        self.classes: dict[str, Classroom] = {}
        self._by_session: dict[str, str] = {}  # local student session id -> class code
        self.guesses = GuessCounter(settings.max_unknown_codes_per_minute, time.monotonic)
        #: The students of other processes, with Redis (None: this process is the server).
        self.link: ClassPeers | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._revalidator: asyncio.Task[None] | None = None
        #: The live sessions (set by ``start``, or by the first ``students`` call).
        self.live: SessionRegistry | None = None

    # --- life cycle -------------------------------------------------------------------

    def use_store(self, store: Any) -> None:  # the app's, when it keeps classes
        if isinstance(store, ClassStore):
            self.store = store

    def start(self, registry: SessionRegistry) -> None:
        """Re-read the cached classes from the store every ``REVALIDATE`` seconds (loop)."""
        self.live = registry
        self._revalidator = asyncio.create_task(self._revalidate_forever())

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._revalidator] if self._revalidator else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def background(self, work: Awaitable[Any], what: str) -> None:
        """Run ``work`` without waiting for it; a failure is logged, not raised."""

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store or Redis is away: the next look-up retries
                log.warning("class %s failed: %s", what, exc)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _revalidate_forever(self) -> None:
        while True:
            await asyncio.sleep(REVALIDATE)
            for code in list(self.classes):
                try:
                    await self.lookup(code, fresh=True)
                except StoreError as exc:
                    log.warning("class %s: the store did not answer: %s", code, exc)

    def __len__(self) -> int:
        self.purge()
        return len(self.classes)

    def purge(self) -> None:
        """Forget classes that are over; their students become ordinary sessions."""
        now = self.clock()
        for klass in [k for k in self.classes.values() if k.expired(now)]:
            self.end_here(klass, "class_ended")

    def _forget(self, klass: Classroom) -> None:
        self.classes.pop(klass.code, None)
        for sid in klass.students:
            self._by_session.pop(sid, None)
        if self.link is not None:
            self.link.forget(klass)

    # --- opening, finding, ending -----------------------------------------------------

    async def create(self, title: str | None = None, client: str = "") -> tuple[Classroom, str]:
        """A new class opened by ``client`` and its teacher token (returned once, kept
        only hashed); TooManyClasses when that client already has
        ``max_classrooms_per_client`` open, ClassroomsFull when ``max_classrooms`` are, on
        every process sharing the store."""
        s = self.settings
        token = secrets.token_urlsafe(24)
        now = self.clock()
        ends, claim_by = now + s.class_lifetime_seconds, now + s.class_claim_seconds
        for _ in range(8):  # 32^6 codes: a collision is rare, eight in a row never
            row = ClassRow(
                new_code(), hash_token(token), title, client_key(client), now, ends, claim_by
            )
            try:
                stored = await _blocking(
                    self.store.create_class, row, s.max_classrooms, s.max_classrooms_per_client
                )
            except ClassCapReached as exc:
                raise self._cap_error(exc) from None
            if stored:
                break
        else:
            raise ClassroomsFull("no free class code was found; try again")
        klass = Classroom.from_row(row, self.clock)
        self.classes[klass.code] = klass
        if self.link is not None:
            self.link.opened(klass)
        return klass, token

    def _cap_error(self, exc: ClassCapReached) -> Exception:
        if exc.scope == "server":
            return ClassroomsFull(
                f"the server already has {self.settings.max_classrooms} open classes "
                "(max_classrooms); one ends when its lifetime is over"
            )
        return TooManyClasses(
            f"this address already has {exc.count} open classes "
            "(max_classrooms_per_client); end one with DELETE /classes/{code}",
            exc.retry_after,
        )

    async def find(self, code: str | None, client: str) -> Classroom | None:
        """``lookup`` for a code a client typed: an unknown code counts against the client's
        ``max_unknown_codes_per_minute``, and over it TooManyGuesses is raised for every
        code, known or not (so a guesser cannot tell a hit from a miss)."""
        self.guesses.check(client)
        if self.link is not None and (wait := await self.link.guesses(client, add=False)):
            raise TooManyGuesses(max(1.0, wait))
        klass = await self.lookup(code)
        if klass is None:
            self.guess_failed(client)
        return klass

    def guess_failed(self, client: str) -> None:
        """An unknown code or a wrong teacher token from ``client``, here and everywhere."""
        self.guesses.failed(client)
        if self.link is not None:
            self.background(self.link.guesses(client, add=True), "guess count")

    async def lookup(self, code: str | None, fresh: bool = False) -> Classroom | None:
        """The open class with this code (any case), from the cache or the store, or None."""
        code = normalize_code(code)
        klass = self.classes.get(code)
        if klass is not None and not fresh and time.monotonic() - klass.checked < REVALIDATE:
            return self._if_open(klass)
        if not plausible_code(code):
            return None
        row = await _blocking(self.store.get_class, code)
        klass = self.classes.get(code)  # another look-up may have cached it meanwhile
        if row is None or not row.open_at(self.clock()):
            if klass is not None:
                self.end_here(klass, "class_ended")
            return None
        if klass is None:
            klass = self.classes[code] = Classroom.from_row(row, self.clock)
            if self.link is not None:
                self.link.follow(klass)
        klass.claimed, klass.ended = klass.claimed or row.claimed, row.ended
        klass.checked = time.monotonic()
        return self._if_open(klass)

    def _if_open(self, klass: Classroom) -> Classroom | None:
        if klass.expired():
            self._forget(klass)
        return None if klass.expired() else klass

    async def claim(self, klass: Classroom) -> None:
        """A teacher connected: the class is no longer reclaimable as abandoned."""
        if not klass.claimed:
            klass.claimed = True
            await _blocking(self.store.claim_class, klass.code)

    async def end(self, klass: Classroom, registry: SessionRegistry) -> int:
        """End ``klass`` now, on every process; how many of its students were here."""
        await _blocking(self.store.end_class, klass.code)
        n = len(self.students(klass, registry))
        self.end_here(klass, "class_ended")
        if self.link is not None:
            self.link.announce_end(klass)
        return n

    def end_here(self, klass: Classroom, event_name: str) -> None:
        """The class is over: its local students keep their sessions as ordinary ones
        (unmarked, told by an event); the teacher's streams see ``expired()`` and close."""
        klass.ended = True
        event = {"type": "event", "event": event_name, "class": klass.code}
        for sid in list(klass.students):
            session = self.live.get(sid) if self.live is not None else None
            if session is not None and session.class_code == klass.code:
                session.class_code = session.student_name = session.thumbnails = None
                session.send(None, event)
        self._forget(klass)

    # --- students -----------------------------------------------------------------------

    def name_taken(self, klass: Classroom, registry: SessionRegistry, name: str) -> bool:
        """A student in this process goes by ``name`` (``name_key``; across: the link)."""
        key = name_key(name)
        return any(
            name_key(session.student_name or "") == key
            for session in self.students(klass, registry)
        )

    def students(self, klass: Classroom, registry: SessionRegistry) -> list[LiveSession]:
        """The class's sessions now in this process's memory, in join order.

        A student whose session left memory (grace period over) stays a member: resuming
        it from its snapshot (``/ws?session=<id>``) brings it back into the class. Absent
        members are forgotten only when they outnumber the cap, so churn stays bounded.
        """
        self.live = self.live or registry
        out, absent = [], []
        for sid in list(klass.students):
            session = registry.get(sid)
            if session is None or session.closed:
                absent.append(sid)
                continue
            if session.class_code is None:  # the same id in a new object (a restore)
                self._mark(klass, session, klass.students[sid])
            out.append(session)
        if len(klass.students) > 2 * self.settings.max_students_per_class:
            for sid in absent:
                del klass.students[sid]
                self._by_session.pop(sid, None)
        return out

    def enrol(self, klass: Classroom, session: LiveSession, name: str) -> None:
        """Make ``session`` a student of ``klass`` (before its ``hello`` is sent); the
        membership is written to the store in the background."""
        klass.students[session.id] = name
        self._by_session[session.id] = klass.code
        self._mark(klass, session, name)
        proof = getattr(session, "resume_hash", None)  # lets its owner take the name back
        member = ClassMember(klass.code, session.id, name, self.clock(), proof)
        self.background(_blocking(self.store.add_member, member), "membership write")

    @staticmethod
    def _mark(klass: Classroom, session: LiveSession, name: str) -> None:
        session.class_code = klass.code
        session.student_name = name
        session.thumbnails = klass.sink

    async def restore(self, session: LiveSession) -> None:
        """A resumed session keeps its class: re-mark it if it is a new object (a session
        restored from a snapshot, here or on another process, or after a restart, has the
        old id but none of the in-memory marks). Its membership is read from the store."""
        if session.class_code is not None:
            return
        try:
            code = self._by_session.get(session.id)
            klass = await self.lookup(code) if code else None
            name = klass.students.get(session.id) if klass is not None else None
            if klass is None or name is None:
                member = await _blocking(self.store.member_of, session.id)
                klass = await self.lookup(member.code) if member is not None else None
                name = member.name if member is not None else None
        except Exception as exc:  # the store is away: the session resumes, outside its class
            log.warning("session %s: its class could not be read: %s", session.id, exc)
            return
        if klass is None or name is None:
            return
        klass.students[session.id] = name
        self._by_session[session.id] = klass.code
        self._mark(klass, session, name)
        if self.link is not None:
            await self.link.rejoined(klass, session)

    def members(self, klass: Classroom) -> Awaitable[list[ClassMember]]:
        return _blocking(self.store.class_members, klass.code)  # on every process
