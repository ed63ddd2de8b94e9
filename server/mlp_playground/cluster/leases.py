"""Caps across processes: leases in a Redis sorted set (member -> expiry on Redis's clock).

Why a sorted set with expiry scores rather than one key per lease: the cap check needs
"how many live leases are there" and "take one if fewer than cap" as one atomic step, and
a Lua script over one sorted set does exactly that (prune the expired, ZCARD, ZADD) without
a SCAN. Scores come from Redis's ``TIME``, so hosts with skewed clocks agree. A process
that dies stops refreshing: its leases expire after ``ttl`` and the cap frees itself.

A member is a session id (the session cap) or a watcher id (a session's watcher cap).
Acquiring a member that already holds a live lease succeeds without taking a second place:
an owner resuming its session on another process keeps its one place. A refresh re-adds
a member that expired meanwhile (after an outage, or a Redis restart that lost every key):
the set then tells the truth about what runs, even above the cap; only new acquisitions
are refused until it falls below.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from mlp_playground.cluster.errors import guarded

_NOW = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

ACQUIRE = (
    _NOW
    + """
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""
)

REFRESH = (
    _NOW
    + """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ttl)
return #ARGV - 1
"""
)

COUNT = (
    _NOW
    + """
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""
)


class LeaseScripts:
    """The three scripts, registered once per Redis client (EVALSHA, loaded on demand)."""

    def __init__(self, redis: Redis) -> None:
        self.acquire = redis.register_script(ACQUIRE)
        self.refresh = redis.register_script(REFRESH)
        self.count = redis.register_script(COUNT)


class LeaseSet:
    """The leases this process holds in one sorted set; loop-thread only.

    ``held`` is the local truth that heartbeats re-assert; Redis's set is the union over
    all processes.
    """

    def __init__(self, redis: Redis, scripts: LeaseScripts, key: str, ttl: float) -> None:
        self.redis = redis
        self.scripts = scripts
        self.key = key
        self.ttl_ms = max(1, round(ttl * 1000))
        self.held: set[str] = set()

    async def try_acquire(self, member: str, cap: int) -> bool:
        """Take a place for ``member`` if fewer than ``cap`` live leases exist (atomic)."""
        args: list[Any] = [member, int(cap), self.ttl_ms]
        ok = await guarded("lease acquire", self.scripts.acquire(keys=[self.key], args=args))
        if ok:
            self.held.add(member)
        return bool(ok)

    async def release(self, member: str) -> None:
        """Give the place back now (rather than at expiry). Forgotten locally even if Redis is
        down: the lease then simply expires."""
        self.held.discard(member)
        await guarded("lease release", self.redis.zrem(self.key, member))

    async def count(self) -> int:
        """Live leases in the set, over all processes."""
        return int(await guarded("lease count", self.scripts.count(keys=[self.key], args=[])))

    async def refresh_into(self, pipe: Any) -> bool:
        """Queue (not send) the refresh of every held lease on ``pipe``; False if none held."""
        if not self.held:
            return False
        args: list[Any] = [self.ttl_ms, *sorted(self.held)]
        await self.scripts.refresh(keys=[self.key], args=args, client=pipe)
        return True
