"""The store's one interface, its errors, and the run encoding both implementations share.

The live layer and the routes talk to saved runs and session snapshots only through
``Store`` (docs/design.md, "Saved runs and durable sessions"), so that the engine and the trainer never see a database and
the tests can swap in ``MemoryStore``. Every implementation enforces the same limits (size
of one run, runs per client per minute, total runs) and raises the same errors, so a caller
maps them to HTTP statuses or websocket ``error`` messages once.

A run is stored as its canonical JSON (compact, UTF-8), zlib-compressed, with the SHA-256
of the JSON: a row is either the whole run or absent (one transaction), and the checksum
lets a reader tell a complete run from a damaged file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

RATE_WINDOW_SECONDS = 60.0
"""``max_runs_per_minute`` counts the runs a client saved in this sliding window."""
ZLIB_LEVEL = 1
"""Measured on a 5,000-point run (218 KB of JSON): level 1 gives 106 KB in ~3 ms, the
default 6 gives 99 KB in ~25 ms. Floats' digits compress poorly; speed wins."""


class StoreError(Exception):
    """Base of the store's errors; ``str(exc)`` is a sentence fit for a client."""


class RunNotFound(StoreError, KeyError):
    """No run has that id (never existed, or deleted)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "no such run"


class WrongDeleteToken(StoreError, PermissionError):
    """The run exists but the delete token does not match."""


class RunTooLarge(StoreError, ValueError):
    """The run's JSON is over ``max_run_bytes``."""


class RateLimited(StoreError):
    """This client saved ``max_runs_per_minute`` runs in the last minute."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreFull(StoreError):
    """``max_runs_total`` runs are stored: no more until some are deleted."""


class CorruptRun(StoreError):
    """A stored run whose bytes do not match its checksum (a damaged database file)."""


class SnapshotRefused(StoreError):
    """A snapshot that does not fit: over ``max_snapshot_bytes``, or no room is left under
    its client's share or the total once every ownerless snapshot it may displace is gone.
    The session's older snapshot is dropped with it: what is stored is its newest or none."""


@dataclass(frozen=True)
class StoreLimits:
    """The caps every store enforces on ``save_run`` (``Settings`` fields of the same name)."""

    max_run_bytes: int = 8 * 1024 * 1024
    max_runs_per_minute: int = 30
    max_runs_total: int = 10_000
    max_snapshot_bytes: int = 20 * 1024 * 1024
    max_snapshot_bytes_per_client: int = 48 * 1024 * 1024
    max_snapshot_bytes_total: int = 1024 * 1024 * 1024


@dataclass(frozen=True)
class SavedRun:
    """What ``save_run`` answers: the new id, the one-time delete token, the creation time."""

    id: str
    delete_token: str
    created: float  # seconds since the epoch

    @property
    def url(self) -> str:
        return f"/r/{self.id}"


class Snapshot(NamedTuple):
    """A session snapshot as written: opaque bytes (the live layer's encoding) and its meta."""

    data: bytes
    meta: dict[str, Any]


class SnapshotRow(NamedTuple):
    """What the snapshot caps count, one row per stored snapshot (no bytes read)."""

    session_id: str
    size: int
    client: str | None  # client_key of the owner's address; None: a class's student
    owned: bool  # its owner was connected when it was written: never displaced
    updated: float  # seconds since the epoch


@dataclass(frozen=True)
class EncodedRun:
    """A run ready for a row: compressed JSON, its checksum and sizes."""

    body: bytes
    checksum: str
    json_bytes: int


# --------------------------------------------------------------------------- helpers


def new_run_id() -> str:
    """12 URL-safe characters, 72 random bits: short for a link, unguessable."""
    return secrets.token_urlsafe(9)


def new_delete_token() -> str:
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """Only the SHA-256 of a delete token is stored: a leaked database deletes nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str | None, stored_hash: str) -> bool:
    """Constant-time comparison, so response timing does not reveal the hash."""
    return token is not None and hmac.compare_digest(hash_token(token), stored_hash)


def client_key(client: str) -> str:
    """Addresses are kept only as a hash: enough to count a client's saves per minute."""
    return hashlib.sha256(f"mlp-playground:{client}".encode()).hexdigest()[:32]


def encode_run(run: Mapping[str, Any], max_bytes: int) -> EncodedRun:
    """Canonical JSON (no NaN: the routes validated it), checked against ``max_bytes``."""
    text = json.dumps(run, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    if len(text) > max_bytes:
        raise RunTooLarge(
            f"the run is {len(text)} bytes of JSON, over the limit of {max_bytes} (max_run_bytes)"
        )
    checksum = hashlib.sha256(text).hexdigest()
    return EncodedRun(zlib.compress(text, ZLIB_LEVEL), checksum, len(text))


def decode_run(body: bytes, checksum: str, run_id: str) -> dict[str, Any]:
    try:
        text = zlib.decompress(body)
    except zlib.error:
        raise CorruptRun(f"run {run_id} is damaged in the database") from None
    if not hmac.compare_digest(hashlib.sha256(text).hexdigest(), checksum):
        raise CorruptRun(f"run {run_id} is damaged in the database")
    out: dict[str, Any] = json.loads(text)
    return out


def iso_utc(t: float) -> str:
    """Seconds since the epoch -> ``2025-01-31T12:00:00.123Z``."""
    dt = datetime.fromtimestamp(t, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def with_identity(run: dict[str, Any], run_id: str, created: float) -> dict[str, Any]:
    """A stored run as ``GET /runs/{id}`` returns it: the fields plus ``id`` and ``created``."""
    return {"id": run_id, "created": iso_utc(created), **run}


def snapshot_evictions(
    rows: list[SnapshotRow], session_id: str, size: int, client: str | None, limits: StoreLimits
) -> list[str]:
    """The stored snapshots to drop so that ``session_id``'s new one of ``size`` bytes fits.

    Ownerless snapshots go, oldest first: the client's own to make room in its share
    (``max_snapshot_bytes_per_client``; a class's students have none, their class's cap
    bounds them), then anyone's for the total (``max_snapshot_bytes_total``). A snapshot
    whose owner is connected is never displaced. Raises ``SnapshotRefused`` when the
    snapshot cannot fit. ``rows`` come from one transaction, oldest ``updated`` first.
    """
    if size > limits.max_snapshot_bytes:
        raise SnapshotRefused(
            f"the snapshot is {size} bytes, over max_snapshot_bytes ({limits.max_snapshot_bytes})"
        )
    others = [r for r in rows if r.session_id != session_id]
    gone: list[str] = []

    def make_room(pool: list[SnapshotRow], cap: int, what: str) -> None:
        used = sum(r.size for r in pool if r.session_id not in gone)
        for row in pool:
            if used + size <= cap:
                return
            if not row.owned and row.session_id not in gone:
                gone.append(row.session_id)
                used -= row.size
        if used + size > cap:
            raise SnapshotRefused(f"no room for a {size}-byte snapshot under {what} ({cap})")

    if client is not None:
        mine = [r for r in others if r.client == client]
        make_room(mine, limits.max_snapshot_bytes_per_client, "max_snapshot_bytes_per_client")
    make_room(others, limits.max_snapshot_bytes_total, "max_snapshot_bytes_total")
    return gone


# --------------------------------------------------------------------------- interface


class Store(ABC):
    """Saved runs (immutable, shareable) and live-session snapshots (overwritten in place).

    Every method blocks (a database round trip): call it from a thread
    (``await asyncio.to_thread(store.save_run, ...)``) or a sync endpoint, never on the
    event loop. Implementations are thread-safe.
    """

    def __init__(
        self, limits: StoreLimits | None = None, clock: Callable[[], float] | None = None
    ) -> None:
        self.limits = limits or StoreLimits()
        #: Seconds since the epoch; tests pass a fake one to step through the rate window.
        self.clock = clock or time.time

    # ---------------------------------------------------------------- runs

    @abstractmethod
    def save_run(self, run: Mapping[str, Any], client: str) -> SavedRun:
        """Store a validated run (``title``, ``config``, ``data``, ``model``, ``history``).

        ``client`` is the saver's address, for ``max_runs_per_minute``. All or nothing: a
        crash mid-save leaves no trace. Raises ``RunTooLarge``, ``RateLimited``, ``StoreFull``.
        """

    @abstractmethod
    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """The run as saved plus ``id`` and ``created`` (ISO 8601 UTC), or None if unknown.

        Raises ``CorruptRun`` if the stored bytes fail their checksum.
        """

    @abstractmethod
    def run_exists(self, run_id: str) -> bool:
        """Whether a run has that id (cheap: the page route checks it before serving)."""

    @abstractmethod
    def delete_run(self, run_id: str, token: str | None) -> None:
        """Delete a run. Raises ``RunNotFound`` for an unknown id, ``WrongDeleteToken`` for
        a missing or wrong token (the run stays)."""

    @abstractmethod
    def run_count(self) -> int:
        """How many runs are stored (``max_runs_total`` counts these)."""

    # ---------------------------------------------------------------- snapshots

    @abstractmethod
    def write_snapshot(
        self,
        session_id: str,
        snapshot: bytes,
        meta: Mapping[str, Any],
        client: str | None = None,
        owned: bool = False,
    ) -> list[str]:
        """Replace the session's snapshot (atomically: readers see the old or the new one).

        ``snapshot`` is opaque here; ``meta`` is a small JSON-ready dict (step, owner...).
        ``client`` (the owner's address; None for a class's student) and ``owned`` (its
        owner is connected) feed the caps of ``snapshot_evictions``, applied in the same
        transaction. Returns the ids of the ownerless snapshots dropped to make room.
        Raises ``SnapshotRefused`` (the session's older snapshot is dropped too).
        """

    @abstractmethod
    def read_snapshot(self, session_id: str) -> Snapshot | None:
        """The last snapshot written for the session, or None."""

    @abstractmethod
    def forget_snapshot(self, session_id: str) -> None:
        """Drop the session's snapshot; no error if there is none."""

    @abstractmethod
    def snapshot_ids(self, older_than: float | None = None) -> list[str]:
        """Sessions with a snapshot, oldest write first; with ``older_than`` (seconds since
        the epoch, as ``time.time()``) only those last written before it (idle clean-up)."""

    @abstractmethod
    def snapshot_bytes(self) -> int:
        """The bytes of every stored snapshot together (``max_snapshot_bytes_total``)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    # ---------------------------------------------------------------- shared checks

    def _check_caps(self, recent: int, oldest_recent: float | None, total: int) -> None:
        """Raise ``RateLimited`` / ``StoreFull`` from the counts a save transaction read."""
        lim = self.limits
        if recent >= lim.max_runs_per_minute:
            wait = RATE_WINDOW_SECONDS
            if oldest_recent is not None:
                wait = max(1.0, oldest_recent + RATE_WINDOW_SECONDS - self.clock())
            raise RateLimited(
                f"too many runs saved from this address: the limit is "
                f"{lim.max_runs_per_minute} a minute (max_runs_per_minute); "
                f"try again in {wait:.0f} s",
                retry_after=wait,
            )
        if total >= lim.max_runs_total:
            raise StoreFull(
                f"the store is full: it holds {total} runs, the limit (max_runs_total) "
                f"is {lim.max_runs_total}; delete some runs to save new ones"
            )

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
