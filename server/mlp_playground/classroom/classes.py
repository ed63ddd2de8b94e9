"""Classes: codes to read aloud, the teacher's secret, the students' sessions, the caps.

A class lives in the memory of one server process (``app.state.classes``); it is gone when
the process ends or when ``class_lifetime_seconds`` have passed since it was created. It
holds only ids and nicknames: the students' sessions are ordinary live sessions in the
session registry (``mlp_playground.live.registry``), marked with ``class_code`` and
``student_name``, so resuming, pacing and the grace period work for students unchanged.
Everything here runs on the event loop.
"""

from __future__ import annotations

import hmac
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlp_playground.classroom.thumbnails import ThumbnailSink
from mlp_playground.config import Settings

if TYPE_CHECKING:
    from mlp_playground.live.registry import SessionRegistry
    from mlp_playground.live.session import LiveSession

#: No 0/O, no 1/I: a code is read aloud and copied from a projector.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_NICKNAME = 24
#: Characters a nickname may not hold besides control characters (category Cc): line and
#: paragraph separators and the bidirectional overrides, which would let a name reorder or
#: hide the text shown next to it on the teacher's wall.
FORBIDDEN_IN_NAMES = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ClassroomsFull(Exception):
    """``max_classrooms`` classes are open (POST /classes answers 507)."""


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str | None) -> str:
    """What a student typed -> a code to look up (case and surrounding spaces ignored)."""
    return (code or "").strip().upper()


def check_nickname(name: str | None) -> str:
    """A nickname after trimming, or ValueError with a sentence saying what is wrong.

    Nicknames are shown as text, never as HTML (the server never builds markup from them,
    and the pages put them in ``textContent``), so ``<b>`` is allowed and shown as typed.
    """
    if name is None:
        raise ValueError("a nickname is required (?name=...)")
    trimmed = name.strip()
    if not 1 <= len(trimmed) <= MAX_NICKNAME:
        raise ValueError(f"a nickname is 1 to {MAX_NICKNAME} characters, got {len(trimmed)}")
    for ch in trimmed:
        if unicodedata.category(ch) == "Cc" or ch in FORBIDDEN_IN_NAMES:
            raise ValueError("a nickname may not contain control characters")
    return trimmed


@dataclass
class Classroom:
    """One class: its code, its teacher's token, its students (session id -> nickname)."""

    code: str
    teacher_token: str
    title: str | None
    created: float  # time.time(), shown to the teacher
    expires: float  # time.monotonic() deadline
    students: dict[str, str] = field(default_factory=dict)
    sink: ThumbnailSink = field(default_factory=ThumbnailSink)

    def token_ok(self, token: str | None) -> bool:
        """Constant-time comparison, so the token cannot be guessed one character at a time."""
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self.teacher_token.encode())

    def expired(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) >= self.expires

    def expires_in(self) -> float:
        return max(0.0, self.expires - time.monotonic())


class ClassRegistry:
    """Every class of this process; lookups forget expired classes as they meet them."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.classes: dict[str, Classroom] = {}
        self._by_session: dict[str, str] = {}  # student session id -> class code

    def __len__(self) -> int:
        self.purge()
        return len(self.classes)

    def purge(self) -> None:
        now = self.clock()
        for code in [c for c, k in self.classes.items() if k.expired(now)]:
            self._forget(self.classes.pop(code))

    def _forget(self, klass: Classroom) -> None:
        for sid in klass.students:
            self._by_session.pop(sid, None)

    def create(self, title: str | None = None) -> Classroom:
        """A new class; ClassroomsFull when ``max_classrooms`` are open."""
        if len(self) >= self.settings.max_classrooms:
            raise ClassroomsFull(
                f"the server already has {self.settings.max_classrooms} open classes "
                "(max_classrooms); one ends when its lifetime is over"
            )
        code = new_code()
        while code in self.classes:
            code = new_code()
        klass = Classroom(
            code=code,
            teacher_token=secrets.token_urlsafe(24),
            title=title,
            created=time.time(),
            expires=self.clock() + self.settings.class_lifetime_seconds,
        )
        self.classes[code] = klass
        return klass

    def get(self, code: str | None) -> Classroom | None:
        """The open class with this code (any case), or None (unknown or expired)."""
        klass = self.classes.get(normalize_code(code))
        if klass is not None and klass.expired(self.clock()):
            self._forget(self.classes.pop(klass.code))
            return None
        return klass

    def students(self, klass: Classroom, registry: SessionRegistry) -> list[LiveSession]:
        """The class's sessions now in memory, in join order.

        A student whose session left memory (grace period over) stays a member: resuming
        it from its snapshot (``/ws?session=<id>``) brings it back into the class. Absent
        members are forgotten only when they outnumber the cap, so churn stays bounded.
        """
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
        """Make ``session`` a student of ``klass`` (before its ``hello`` is sent)."""
        klass.students[session.id] = name
        self._by_session[session.id] = klass.code
        self._mark(klass, session, name)

    @staticmethod
    def _mark(klass: Classroom, session: LiveSession, name: str) -> None:
        session.class_code = klass.code
        session.student_name = name
        session.thumbnails = klass.sink

    def restore(self, session: LiveSession) -> None:
        """A resumed session keeps its class: re-mark it if it is a new object (a session
        restored from a snapshot has the old id but none of the in-memory marks)."""
        code = self._by_session.get(session.id)
        klass = self.get(code) if code else None
        if klass is not None and session.id in klass.students and session.class_code is None:
            self._mark(klass, session, klass.students[session.id])
