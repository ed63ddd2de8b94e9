"""Classes: codes to read aloud, the teacher's secret, the students' sessions, the caps.

A class lives in the memory of one server process (``app.state.classes``); it is gone when
the process ends, when ``class_lifetime_seconds`` have passed since it was created, when its
teacher ends it (``DELETE /classes/{code}``), or when no teacher connected within
``class_claim_seconds`` (an abandoned ``POST /classes`` must not hold a slot for hours). It
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
from collections import deque
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


#: Letters that draw nothing (Hangul fillers; NFKC maps U+3164 and U+FFA0 onto U+1160).
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
#: Look-alikes folded onto one letter when nicknames are compared, so "Аda" (Cyrillic А)
#: cannot sit on the wall beside "Ada". Applied after ``casefold``: lower-case forms only.
#: Cyrillic and Greek letters drawn like Latin ones, and the digits read as letters.
CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
        "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y",
        "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
        "0": "o", "1": "l", "|": "l",
    }
)  # fmt: skip


class ClassroomsFull(Exception):
    """``max_classrooms`` classes are open (POST /classes answers 507)."""


class TooManyClasses(Exception):
    """This client already has ``max_classrooms_per_client`` open classes (429);
    ``retry_after`` seconds until the first of them ends or is reclaimed unclaimed."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyGuesses(Exception):
    """This client tried ``max_unknown_codes_per_minute`` unknown codes or wrong teacher
    tokens in the last minute; ``retry_after`` seconds until it may try again."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "too many unknown class codes from this address in the last minute "
            f"(max_unknown_codes_per_minute); try again in {retry_after:.0f} s"
        )
        self.retry_after = retry_after


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str | None) -> str:
    """What a student typed -> a code to look up (case and surrounding spaces ignored)."""
    return (code or "").strip().upper()


def check_nickname(name: str | None) -> str:
    """A nickname in its NFKC form, trimmed, or ValueError with a sentence saying what is wrong.

    NFKC folds compatibility forms (full-width letters, ligatures) onto plain ones, and
    invisible format characters (category Cf: zero-width spaces and joiners) are removed,
    so that a name looks like what it is. It must hold at least one visible letter or digit:
    a name of blanks (U+3164, U+2800, zero-width spaces) would be a hole on the teacher's
    wall. Nicknames are shown as text, never as HTML (the server never builds markup from
    them, and the pages put them in ``textContent``), so ``<b>`` is allowed and shown as typed.
    """
    if name is None:
        raise ValueError("a nickname is required (?name=...)")
    folded = unicodedata.normalize("NFKC", name)
    for ch in folded:
        if unicodedata.category(ch) == "Cc" or ch in FORBIDDEN_IN_NAMES:
            raise ValueError("a nickname may not contain control characters")
    trimmed = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf").strip()
    if not 1 <= len(trimmed) <= MAX_NICKNAME:
        raise ValueError(f"a nickname is 1 to {MAX_NICKNAME} characters, got {len(trimmed)}")
    if not any(unicodedata.category(ch)[0] in "LN" and ch not in BLANK_LETTERS for ch in trimmed):
        raise ValueError("a nickname needs at least one visible letter or digit")
    return trimmed


def name_key(name: str) -> str:
    """What two nicknames are compared by: case, spacing and look-alike letters ignored.

    "Ada", "ADA", "A da" and "Аda" (Cyrillic А) share one key; accents still count
    ("Adá" is another name), since they are visible.
    """
    folded = unicodedata.normalize("NFKC", name).casefold().translate(CONFUSABLES)
    return "".join(ch for ch in folded if not ch.isspace())


class GuessCounter:
    """Failed look-ups (unknown codes, wrong teacher tokens) per client, in a sliding minute.

    A class code has 32^6 (about 10^9) values: at the default 30 failures a minute per
    address, finding one open class among 50 takes years. Clients beyond
    ``MAX_TRACKED_CLIENTS`` push out the longest-quiet one, so memory stays bounded.
    """

    WINDOW = 60.0
    MAX_TRACKED_CLIENTS = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and times[0] <= now - self.WINDOW:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def check(self, client: str) -> None:
        """TooManyGuesses while ``client`` is over its share."""
        now = self.clock()
        times = self._recent(client, now)
        if times is not None and len(times) >= self.per_minute:
            raise TooManyGuesses(max(1.0, times[0] + self.WINDOW - now))

    def failed(self, client: str) -> None:
        now = self.clock()
        times = self._recent(client, now)
        if times is None:
            if len(self._failures) >= self.MAX_TRACKED_CLIENTS:
                quietest = min(self._failures, key=lambda c: self._failures[c][-1])
                del self._failures[quietest]
            times = self._failures[client] = deque()
        times.append(now)


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
    #: The address that opened it (``max_classrooms_per_client`` counts by it).
    creator: str = ""
    #: time.monotonic() by which a teacher must have connected, or the class is reclaimed.
    claim_by: float = float("inf")
    #: A teacher has connected once (the class is no longer reclaimable as abandoned).
    claimed: bool = False
    #: Ended by its teacher (``DELETE /classes/{code}``): gone at once.
    ended: bool = False

    def token_ok(self, token: str | None) -> bool:
        """Constant-time comparison, so the token cannot be guessed one character at a time."""
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self.teacher_token.encode())

    def expired(self, now: float | None = None) -> bool:
        """Over: ended, past its lifetime, or never claimed by a teacher in time."""
        now = time.monotonic() if now is None else now
        return self.ended or now >= self.expires or (not self.claimed and now >= self.claim_by)

    def expires_in(self) -> float:
        return max(0.0, self.expires - time.monotonic())


class ClassRegistry:
    """Every class of this process; lookups forget expired classes as they meet them."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.classes: dict[str, Classroom] = {}
        self._by_session: dict[str, str] = {}  # student session id -> class code
        self.guesses = GuessCounter(settings.max_unknown_codes_per_minute, clock)

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

    def create(self, title: str | None = None, client: str = "") -> Classroom:
        """A new class opened by ``client``; TooManyClasses when that client already has
        ``max_classrooms_per_client`` open, ClassroomsFull when ``max_classrooms`` are."""
        if len(self) >= self.settings.max_classrooms:  # len() forgets the classes that ended
            raise ClassroomsFull(
                f"the server already has {self.settings.max_classrooms} open classes "
                "(max_classrooms); one ends when its lifetime is over"
            )
        mine = [k for k in self.classes.values() if k.creator == client]
        if len(mine) >= self.settings.max_classrooms_per_client:
            now = self.clock()
            ends = min(k.expires if k.claimed else min(k.expires, k.claim_by) for k in mine)
            raise TooManyClasses(
                f"this address already has {len(mine)} open classes "
                "(max_classrooms_per_client); end one with DELETE /classes/{code}",
                max(1.0, ends - now),
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
            creator=client,
            claim_by=self.clock() + self.settings.class_claim_seconds,
        )
        self.classes[code] = klass
        return klass

    def find(self, code: str | None, client: str) -> Classroom | None:
        """``get`` for a code a client typed: an unknown code counts against the client's
        ``max_unknown_codes_per_minute``, and over it TooManyGuesses is raised for every
        code, known or not (so a guesser cannot tell a hit from a miss)."""
        self.guesses.check(client)
        klass = self.get(code)
        if klass is None:
            self.guesses.failed(client)
        return klass

    def end(self, klass: Classroom, registry: SessionRegistry) -> int:
        """End ``klass`` now (its teacher asked); how many students were in memory.

        Its students keep their sessions as ordinary ones: unmarked, told by an event; the
        teacher's streams see ``expired()`` and close.
        """
        students = self.students(klass, registry)
        klass.ended = True
        self.classes.pop(klass.code, None)
        self._forget(klass)
        event = {"type": "event", "event": "class_ended", "class": klass.code}
        for session in students:
            session.class_code = None
            session.student_name = None
            session.thumbnails = None
            session.send(None, event)
        return len(students)

    def name_taken(self, klass: Classroom, registry: SessionRegistry, name: str) -> bool:
        """Another student now in the class already goes by ``name`` (see ``name_key``)."""
        key = name_key(name)
        return any(
            name_key(session.student_name or "") == key
            for session in self.students(klass, registry)
        )

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
