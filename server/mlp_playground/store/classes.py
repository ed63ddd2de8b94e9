"""Classes in the store: the rows, the interface both stores add, and the memory version.

A class outlives the process that opened it (docs/design.md, "The classroom"): its code,
the SHA-256 of its teacher's token (never the token), its title, its times (seconds since
the epoch, so every process and a restarted one agree) and its members (student session id
-> nickname), so that a student's session resumed on any process, or after a restart,
is back in its class. ``create_class`` counts the open classes and the opener's in the
same transaction as its insert, so ``max_classrooms`` and ``max_classrooms_per_client``
hold across processes sharing the database.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

from mlp_playground.store.base import StoreError


@dataclass(frozen=True)
class ClassRow:
    """One class as stored. ``client`` is ``base.client_key`` of the opener's address."""

    code: str
    token_hash: str
    title: str | None
    client: str
    created: float
    expires: float  # end of its lifetime
    claim_by: float  # a teacher must have connected by then, or it is reclaimed
    claimed: bool = False
    ended: bool = False

    def open_at(self, now: float) -> bool:
        """Not ended, not past its lifetime, not abandoned before a teacher came."""
        return not self.ended and now < self.expires and (self.claimed or now < self.claim_by)

    def ends_at(self) -> float:
        """When it stops counting against the caps if nobody ends it."""
        return self.expires if self.claimed else min(self.expires, self.claim_by)


@dataclass(frozen=True)
class ClassMember:
    """A student of a class: their session's id and nickname, and the SHA-256 of the
    session's resume key (its owner may take the nickname back with a new session)."""

    code: str
    session_id: str
    name: str
    joined: float
    resume_hash: str | None = None


class ClassCapReached(StoreError):
    """No class opened: ``scope`` is ``"server"`` (``max_classrooms`` open) or ``"client"``
    (the opener has ``max_classrooms_per_client`` open); ``retry_after`` seconds until the
    first of the counted ones ends."""

    def __init__(self, scope: str, count: int, retry_after: float) -> None:
        super().__init__(f"{count} open classes ({scope})")
        self.scope = scope
        self.count = count
        self.retry_after = retry_after


def check_caps(
    open_rows: list[ClassRow], client: str, max_open: int, max_mine: int, now: float
) -> None:
    """Raise ``ClassCapReached`` from the open classes one transaction read."""
    if len(open_rows) >= max_open:
        first = min(r.ends_at() for r in open_rows) if open_rows else now
        raise ClassCapReached("server", len(open_rows), max(1.0, first - now))
    mine = [r for r in open_rows if r.client == client]
    if len(mine) >= max_mine:
        first = min(r.ends_at() for r in mine)
        raise ClassCapReached("client", len(mine), max(1.0, first - now))


class ClassStore(ABC):
    """The class half of a store. Every method blocks: call it from a thread."""

    @abstractmethod
    def create_class(self, row: ClassRow, max_open: int, max_per_client: int) -> bool:
        """Insert ``row`` unless the caps are reached (``ClassCapReached``); False if its
        code is taken (the caller draws another). Closed classes are purged first."""

    @abstractmethod
    def get_class(self, code: str) -> ClassRow | None:
        """The class with this code, open or not (the caller checks ``open_at``)."""

    @abstractmethod
    def claim_class(self, code: str) -> None:
        """A teacher connected: the class is no longer reclaimable as abandoned."""

    @abstractmethod
    def end_class(self, code: str) -> None:
        """Ended by its teacher: marked ended, its members forgotten."""

    @abstractmethod
    def add_member(self, member: ClassMember) -> None:
        """Record (or replace) a student's membership, by session id."""

    @abstractmethod
    def class_members(self, code: str) -> list[ClassMember]:
        """The class's members, in join order."""

    @abstractmethod
    def member_of(self, session_id: str) -> ClassMember | None:
        """The membership of a session, or None."""


class MemoryClasses(ClassStore):
    """``ClassStore`` in dicts behind one lock (``MemoryStore``'s half)."""

    def __init__(self) -> None:
        self._class_lock = threading.Lock()
        self._classes: dict[str, ClassRow] = {}
        self._members: dict[str, ClassMember] = {}

    def _now(self) -> float:
        clock = getattr(self, "clock", None)  # the store's clock, when mixed into one
        return float(clock()) if clock is not None else time.time()

    def create_class(self, row: ClassRow, max_open: int, max_per_client: int) -> bool:
        now = self._now()
        with self._class_lock:
            for code in [c for c, r in self._classes.items() if not r.open_at(now)]:
                self._drop(code)
            check_caps(list(self._classes.values()), row.client, max_open, max_per_client, now)
            if row.code in self._classes:
                return False
            self._classes[row.code] = row
            return True

    def _drop(self, code: str) -> None:
        del self._classes[code]
        for sid in [s for s, m in self._members.items() if m.code == code]:
            del self._members[sid]

    def get_class(self, code: str) -> ClassRow | None:
        with self._class_lock:
            return self._classes.get(code)

    def claim_class(self, code: str) -> None:
        with self._class_lock:
            row = self._classes.get(code)
            if row is not None:
                self._classes[code] = replace(row, claimed=True)

    def end_class(self, code: str) -> None:
        with self._class_lock:
            row = self._classes.get(code)
            if row is not None:
                self._drop(code)
                self._classes[code] = replace(row, ended=True)

    def add_member(self, member: ClassMember) -> None:
        with self._class_lock:
            self._members[member.session_id] = member

    def class_members(self, code: str) -> list[ClassMember]:
        with self._class_lock:
            found = [m for m in self._members.values() if m.code == code]
        return sorted(found, key=lambda m: m.joined)

    def member_of(self, session_id: str) -> ClassMember | None:
        with self._class_lock:
            return self._members.get(session_id)
