"""A client address's shares over every process: its sessions and its class students.

Each share is a lease set (``cluster.leases``) under ``Keys.client_sessions``: a session
id per place, so a session resumed on another process keeps its one place, and a process
that dies stops renewing its places, which then free themselves.
"""

from __future__ import annotations

from redis.asyncio import Redis

from mlp_playground.cluster.keys import Keys
from mlp_playground.cluster.leases import LeaseScripts, LeaseSet


class ClientShares:
    """The share places this process holds, by (client address, kind); loop-thread only."""

    def __init__(self, redis: Redis, scripts: LeaseScripts, keys: Keys, ttl: float) -> None:
        self.redis, self.scripts, self.keys, self.ttl = redis, scripts, keys, ttl
        self._sets: dict[tuple[str, str], LeaseSet] = {}

    def lease_sets(self) -> list[LeaseSet]:
        """What the heartbeat renews (and a clean close gives back)."""
        return list(self._sets.values())

    def _share(self, client: str, kind: str) -> LeaseSet:
        found = self._sets.get((client, kind))
        if found is None:
            key = self.keys.client_sessions(client, kind)
            found = self._sets[client, kind] = LeaseSet(self.redis, self.scripts, key, self.ttl)
        return found

    def _tidy(self, client: str, kind: str) -> None:
        found = self._sets.get((client, kind))
        if found is not None and not found.held:
            del self._sets[client, kind]

    async def try_acquire(
        self, client: str, session_id: str, cap: int, kind: str = "sessions"
    ) -> bool:
        """A place in ``client``'s share (``kind``: "sessions", or "students" of classes)
        if it has fewer than ``cap`` (idempotent for a session already counted)."""
        ok = await self._share(client, kind).try_acquire(session_id, cap)
        self._tidy(client, kind)
        return ok

    async def release(self, client: str, session_id: str, kind: str = "sessions") -> None:
        try:
            await self._share(client, kind).release(session_id)
        finally:
            self._tidy(client, kind)

    def forget(self, client: str, session_id: str, kind: str = "sessions") -> None:
        """Stop renewing a moved session's place (the process that took it holds it)."""
        found = self._sets.get((client, kind))
        if found is not None:
            found.held.discard(session_id)
            self._tidy(client, kind)
