"""Redis key and channel names (docs/design.md, "Several processes"), in one place.

Everything lives under one prefix so that several deployments can share a Redis database
in tests (each test uses its own prefix) and so that an operator can find (or flush)
exactly this application's keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """The names for one prefix (``mlpg`` in production)."""

    prefix: str = "mlpg"

    @property
    def sessions(self) -> str:
        """Sorted set: session id -> lease expiry (ms, Redis clock); the global session cap."""
        return f"{self.prefix}:sessions"

    def watchers(self, session_id: str) -> str:
        """Sorted set: watcher id -> lease expiry; the per-session watcher cap."""
        return f"{self.prefix}:watchers:{session_id}"

    def client_sessions(self, client: str, kind: str = "sessions") -> str:
        """Sorted set: session id -> lease expiry; one client address's share over every
        process: ``sessions`` (``max_sessions_per_client``) or ``students``
        (``max_students_per_client``). The address only as a hash."""
        digest = hashlib.sha256(f"mlp-playground:{client}".encode()).hexdigest()[:24]
        return f"{self.prefix}:client:{digest}" + ("" if kind == "sessions" else f":{kind}")

    def session(self, session_id: str) -> str:
        """Hash ``{process, watch_token}``: where the session lives (TTL, owner-refreshed)."""
        return f"{self.prefix}:session:{session_id}"

    def watch_token(self, token: str) -> str:
        """String: watch token -> session id (TTL, owner-refreshed)."""
        return f"{self.prefix}:watch:{token}"

    def model(self, session_id: str) -> str:
        """String: the session's model document (JSON), at most ~1 s old while wanted."""
        return f"{self.prefix}:model:{session_id}"

    def model_wanted(self, session_id: str) -> str:
        """String with a TTL: some process read the session's model lately (models.py)."""
        return f"{self.prefix}:model-wanted:{session_id}"

    def frames(self, session_id: str) -> str:
        """Pub/sub channel: the session's stream, each message published once (wire.py)."""
        return f"{self.prefix}:frames:{session_id}"

    def control(self, process_id: str) -> str:
        """Pub/sub channel: JSON requests addressed to one process (e.g. a watcher joined)."""
        return f"{self.prefix}:proc:{process_id}"
