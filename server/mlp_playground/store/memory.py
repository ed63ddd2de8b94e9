"""``MemoryStore``: the ``Store`` interface in one process's memory, for tests and
``MLPG_DATABASE_URL=memory://``.

It keeps runs encoded exactly as ``SqlStore`` does (compressed JSON with its checksum), so
the two share limits, errors and what a caller gets back; only durability differs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlp_playground.store.base import (
    RATE_WINDOW_SECONDS,
    RunNotFound,
    SavedRun,
    Snapshot,
    SnapshotRefused,
    SnapshotRow,
    Store,
    StoreLimits,
    WrongDeleteToken,
    client_key,
    decode_run,
    encode_run,
    hash_token,
    new_delete_token,
    new_run_id,
    snapshot_evictions,
    token_matches,
    with_identity,
)
from mlp_playground.store.classes import MemoryClasses


@dataclass
class _Row:
    body: bytes
    checksum: str
    token_hash: str
    client: str
    created: float


class MemoryStore(Store, MemoryClasses):
    """Thread-safe dicts behind one lock; nothing survives the process."""

    def __init__(
        self, limits: StoreLimits | None = None, clock: Callable[[], float] | None = None
    ) -> None:
        super().__init__(limits, clock)
        MemoryClasses.__init__(self)
        self._lock = threading.Lock()
        self._runs: dict[str, _Row] = {}
        self._snapshots: dict[str, tuple[bytes, str, SnapshotRow]] = {}

    def save_run(self, run: Mapping[str, Any], client: str) -> SavedRun:
        enc = encode_run(run, self.limits.max_run_bytes)
        key = client_key(client)
        token = new_delete_token()
        with self._lock:
            now = self.clock()
            recent = [
                r.created
                for r in self._runs.values()
                if r.client == key and r.created > now - RATE_WINDOW_SECONDS
            ]
            self._check_caps(len(recent), min(recent, default=None), len(self._runs))
            run_id = new_run_id()
            while run_id in self._runs:
                run_id = new_run_id()
            self._runs[run_id] = _Row(enc.body, enc.checksum, hash_token(token), key, now)
        return SavedRun(run_id, token, now)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._runs.get(run_id)
        if row is None:
            return None
        return with_identity(decode_run(row.body, row.checksum, run_id), run_id, row.created)

    def run_exists(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._runs

    def delete_run(self, run_id: str, token: str | None) -> None:
        with self._lock:
            row = self._runs.get(run_id)
            if row is None:
                raise RunNotFound(f"no run with id {run_id!r}")
            if not token_matches(token, row.token_hash):
                raise WrongDeleteToken("wrong or missing delete token (X-Delete-Token)")
            del self._runs[run_id]

    def run_count(self) -> int:
        with self._lock:
            return len(self._runs)

    def write_snapshot(
        self,
        session_id: str,
        snapshot: bytes,
        meta: Mapping[str, Any],
        client: str | None = None,
        owned: bool = False,
    ) -> list[str]:
        text = json.dumps(dict(meta), separators=(",", ":"), allow_nan=False)
        key = None if client is None else client_key(client)
        with self._lock:
            rows = sorted((e[2] for e in self._snapshots.values()), key=lambda r: r.updated)
            try:
                gone = snapshot_evictions(rows, session_id, len(snapshot), key, self.limits)
            except SnapshotRefused:
                self._snapshots.pop(session_id, None)
                raise
            for sid in gone:
                del self._snapshots[sid]
            row = SnapshotRow(session_id, len(snapshot), key, owned, self.clock())
            self._snapshots[session_id] = (bytes(snapshot), text, row)
        return gone

    def read_snapshot(self, session_id: str) -> Snapshot | None:
        with self._lock:
            entry = self._snapshots.get(session_id)
        if entry is None:
            return None
        return Snapshot(entry[0], json.loads(entry[1]))

    def forget_snapshot(self, session_id: str) -> None:
        with self._lock:
            self._snapshots.pop(session_id, None)

    def snapshot_ids(self, older_than: float | None = None) -> list[str]:
        with self._lock:
            rows = sorted((e[2] for e in self._snapshots.values()), key=lambda r: r.updated)
        return [r.session_id for r in rows if older_than is None or r.updated < older_than]

    def snapshot_bytes(self) -> int:
        with self._lock:
            return sum(e[2].size for e in self._snapshots.values())

    def close(self) -> None:
        with self._lock:
            self._runs.clear()
            self._snapshots.clear()
