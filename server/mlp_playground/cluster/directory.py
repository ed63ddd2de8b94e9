"""The session directory: which process holds a session, and watch token -> session id.

Why the owner's process refreshes the entries (TTL ~3 heartbeats) instead of writing them
once: a process that dies must vanish from the directory by itself, so that watchers
elsewhere learn the stream is gone and the owner can resume on another process. The
refresh is conditional (a Lua script): if another process took the session over (the owner
resumed there while this one was cut off from Redis), this process does not take it back;
the heartbeat reports the session as lost instead, and the live layer drops its copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from mlp_playground.cluster.errors import guarded
from mlp_playground.cluster.keys import Keys

# KEYS: session hash, watch-token key, model key, model-wanted key. ARGV: process, token,
# ttl ms, force, id. Returns 0 (another process owns it), 1 (ours), 2 (ours, and some
# process wants its model document: models.py).
CLAIM = """
local cur = redis.call('HGET', KEYS[1], 'process')
if cur and cur ~= ARGV[1] and ARGV[4] ~= '1' then return 0 end
redis.call('HSET', KEYS[1], 'process', ARGV[1], 'watch_token', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1 + redis.call('EXISTS', KEYS[4])
"""

# KEYS: session hash, watch-token key, model key. ARGV: process.
DROP = """
if redis.call('HGET', KEYS[1], 'process') == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 1
end
return 0
"""

# KEYS: watch-token key. ARGV: prefix. Returns {session id, process, token} or nil.
BY_TOKEN = """
local sid = redis.call('GET', KEYS[1])
if not sid then return nil end
local h = redis.call('HMGET', ARGV[1] .. ':session:' .. sid, 'process', 'watch_token')
if not h[1] then return nil end
return {sid, h[1], h[2]}
"""


@dataclass(frozen=True)
class SessionEntry:
    """Where a live session is: its id, the owning process's id and its watch token."""

    session_id: str
    process: str
    watch_token: str


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SessionDirectory:
    """This process's entries (``owned``: session id -> watch token) and lookups for all."""

    def __init__(self, redis: Redis, keys: Keys, process_id: str, ttl: float) -> None:
        self.redis = redis
        self.keys = keys
        self.process_id = process_id
        self.ttl_ms = max(1, round(ttl * 1000))
        self.owned: dict[str, str] = {}
        self._claim = redis.register_script(CLAIM)
        self._drop = redis.register_script(DROP)
        self._by_token = redis.register_script(BY_TOKEN)

    def _claim_args(self, session_id: str, force: bool) -> tuple[list[str], list[Any]]:
        token = self.owned[session_id]
        k = self.keys
        names = [
            k.session(session_id),
            k.watch_token(token),
            k.model(session_id),
            k.model_wanted(session_id),
        ]
        return names, [self.process_id, token, self.ttl_ms, "1" if force else "0", session_id]

    async def register(self, session_id: str, watch_token: str) -> bool:
        """Make this process the session's home (taking it over from any other process);
        whether some process wants its model document."""
        self.owned[session_id] = watch_token
        names, args = self._claim_args(session_id, force=True)
        return int(await guarded("session register", self._claim(keys=names, args=args))) == 2

    async def unregister(self, session_id: str) -> None:
        """Remove the session's entries (and its model key) if this process still owns them."""
        token = self.owned.pop(session_id, None)
        if token is None:
            return
        k = self.keys
        names = [k.session(session_id), k.watch_token(token), k.model(session_id)]
        await guarded("session unregister", self._drop(keys=names, args=[self.process_id]))

    async def lookup(self, session_id: str) -> SessionEntry | None:
        """The session's entry, from any process; None if no live process holds it."""
        h = await guarded("session lookup", self.redis.hgetall(self.keys.session(session_id)))
        if not h or b"process" not in h:
            return None
        return SessionEntry(session_id, _text(h[b"process"]), _text(h.get(b"watch_token", b"")))

    async def by_watch_token(self, token: str) -> SessionEntry | None:
        """The session a watch token belongs to, wherever it lives; None if unknown."""
        found = await guarded(
            "watch token lookup",
            self._by_token(keys=[self.keys.watch_token(token)], args=[self.keys.prefix]),
        )
        if not found:
            return None
        sid, process, tok = (_text(v) for v in found)
        return SessionEntry(sid, process, tok)

    async def refresh_into(self, pipe: Any) -> list[str]:
        """Queue the conditional refresh of every owned entry; returns the ids in queue order.

        Each queued result is 0 (another process owns it), 1 (still ours, TTLs renewed) or
        2 (ours, and its model document is wanted).
        """
        ids = list(self.owned)
        for sid in ids:
            names, args = self._claim_args(sid, force=False)
            await self._claim(keys=names, args=args, client=pipe)
        return ids
