"""Codes, nicknames and guesses: what a student types, what they may be called, and how
many wrong codes a client may try (docs/design.md, "The classroom").

Nicknames are shown as text, never as HTML; ``name_key`` is what two of them are compared by
(on every process: ``classroom.class_link`` holds a class's name keys across processes).
``GuessCounter`` counts one process's failed look-ups; each process counts its own.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections import deque
from collections.abc import Callable

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
#: Code points that draw nothing and are not format characters (Cf), dropped from a
#: nickname like those: the Hangul fillers, the Braille blank, the combining grapheme
#: joiner, the variation selectors and the Mongolian and Khmer ones (Unicode's
#: Default_Ignorable_Code_Point, less Cf). "Ada\u3164" would otherwise sit beside "Ada".
INVISIBLE = BLANK_LETTERS | frozenset(
    "\u2800\u034f\u17b4\u17b5\u180b\u180c\u180d\u180f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
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
        "ɑ": "a", "ı": "i", "ɩ": "i", "ʏ": "y", "ɢ": "g", "ʜ": "h", "ʟ": "l", "ɴ": "n",
        "ʀ": "r", "ᴀ": "a", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ᴋ": "k", "ᴍ": "m", "ᴏ": "o",
        "ᴘ": "p", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
        "օ": "o", "ս": "u", "հ": "h", "ո": "n", "ց": "g", "զ": "q",
        # Cherokee (casefold gives the capitals): Ꭺ Ᏼ Ꮯ Ꭰ Ꭼ Ꮐ Ꮋ Ꭵ Ꭻ Ꮶ Ꮮ Ꮇ Ꮲ Ꭱ Ꮪ Ꭲ Ꮩ Ꮃ Ꮓ
        "\u13aa": "a", "\u13f4": "b", "\u13df": "c", "\u13a0": "d", "\u13ac": "e",
        "\u13c0": "g", "\u13bb": "h", "\u13a5": "i", "\u13ab": "j", "\u13e6": "k",
        "\u13de": "l", "\u13b7": "m", "\u13e2": "p", "\u13a1": "r", "\u13da": "s",
        "\u13a2": "t", "\u13d9": "v", "\u13b3": "w", "\u13c3": "z",
        "0": "o", "1": "l", "|": "l",
    }
)  # fmt: skip


class TooManyGuesses(Exception):
    """This client tried ``max_unknown_codes_per_minute`` unknown codes or wrong teacher
    tokens in the last minute; ``retry_after`` seconds until it may try again."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "too many unknown class codes from this address in the last minute "
            f"(max_unknown_codes_per_minute); try again in {retry_after:.0f} s"
        )
        self.retry_after = retry_after


def check_nickname(name: str | None) -> str:
    """A nickname in its NFKC form, trimmed, or ValueError with a sentence saying what is wrong.

    NFKC folds compatibility forms (full-width letters, ligatures) onto plain ones, and
    invisible format characters (category Cf: zero-width spaces and joiners) are removed,
    so that a name looks like what it is; so are the other code points that draw nothing
    (``INVISIBLE``: fillers, the Braille blank, variation selectors). It must hold at least
    one visible letter or digit: a name of blanks (U+3164, U+2800, zero-width spaces) would be a hole on the teacher's
    wall. Nicknames are shown as text, never as HTML (the server never builds markup from
    them, and the pages put them in ``textContent``), so ``<b>`` is allowed and shown as typed.
    """
    if name is None:
        raise ValueError("a nickname is required (?name=...)")
    folded = unicodedata.normalize("NFKC", name)
    for ch in folded:
        if unicodedata.category(ch) == "Cc" or ch in FORBIDDEN_IN_NAMES:
            raise ValueError("a nickname may not contain control characters")
    trimmed = _drawn(folded).strip()
    if not trimmed and folded.strip():
        raise ValueError("a nickname needs at least one visible letter or digit")
    if not 1 <= len(trimmed) <= MAX_NICKNAME:
        raise ValueError(f"a nickname is 1 to {MAX_NICKNAME} characters, got {len(trimmed)}")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in trimmed):
        raise ValueError("a nickname needs at least one visible letter or digit")
    return trimmed


def name_key(name: str) -> str:
    """What two nicknames are compared by: case, spacing and look-alike letters ignored.

    "Ada", "ADA", "A da" and "Аda" (Cyrillic А) share one key; accents still count
    ("Adá" is another name), since they are visible.
    """
    folded = unicodedata.normalize("NFKC", name).casefold().translate(CONFUSABLES)
    return "".join(ch for ch in _drawn(folded) if not ch.isspace())


def _drawn(text: str) -> str:
    """``text`` without what draws nothing: format characters (Cf) and ``INVISIBLE``."""
    return "".join(ch for ch in text if ch not in INVISIBLE and unicodedata.category(ch) != "Cf")


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


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str | None) -> str:
    """What a student typed -> a code to look up (case and surrounding spaces ignored)."""
    return (code or "").strip().upper()


def plausible_code(code: str) -> bool:
    """Could be a code (6 letters of the alphabet): anything else never reaches the store."""
    return len(code) == CODE_LENGTH and all(ch in ALPHABET for ch in code)
