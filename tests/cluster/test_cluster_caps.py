"""Caps and directory across processes: two ``Cluster`` objects stand for two processes."""

from __future__ import annotations

import asyncio

from mlp_playground.cluster.cluster import Cluster
from tests.support.cluster import RedisServer, run, until


def test_session_cap_holds_across_processes(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b = Cluster(redis_server.url, prefix=prefix), Cluster(redis_server.url, prefix=prefix)
        await a.start()
        await b.start()
        try:
            assert await a.try_acquire_session("s1", 3)
            assert await a.try_acquire_session("s2", 3)
            assert await b.try_acquire_session("s3", 3)
            assert not await b.try_acquire_session("s4", 3)
            assert await b.session_count() == 3
            # A session already counted keeps its one place (an owner resuming elsewhere).
            assert await b.try_acquire_session("s1", 3)
            assert await a.session_count() == 3
            await a.release_session("s2")
            assert await b.try_acquire_session("s4", 3)
            assert not await a.try_acquire_session("s5", 3)
        finally:
            await a.close()
            await b.close()
        # A clean close gives every place back at once.
        c = Cluster(redis_server.url, prefix=prefix)
        await c.start()
        try:
            assert await c.session_count() == 0
        finally:
            await c.close()

    run(scenario())


def test_watcher_cap_holds_across_processes(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b = Cluster(redis_server.url, prefix=prefix), Cluster(redis_server.url, prefix=prefix)
        await a.start()
        await b.start()
        try:
            w = [a.new_watcher_id(), a.new_watcher_id(), b.new_watcher_id(), b.new_watcher_id()]
            assert len(set(w)) == 4
            assert await a.try_acquire_watcher("s", w[0], 3)
            assert await a.try_acquire_watcher("s", w[1], 3)
            assert await b.try_acquire_watcher("s", w[2], 3)
            assert not await b.try_acquire_watcher("s", w[3], 3)
            assert await b.try_acquire_watcher("other", w[3], 3)  # a cap per session
            await a.release_watcher("s", w[0])
            assert await b.try_acquire_watcher("s", w[3], 3)
            assert await a.watcher_count("s") == 3
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_leases_expire_when_heartbeats_stop(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        kw = {"prefix": prefix, "heartbeat": 0.1, "lease_ttl": 0.5}
        alive = Cluster(redis_server.url, **kw)  # type: ignore[arg-type]
        dead = Cluster(redis_server.url, **kw)  # type: ignore[arg-type]
        await alive.start()
        # ``dead`` never starts its heartbeat: it is a process that died after acquiring.
        assert await dead.try_acquire_session("gone", 2)
        assert await dead.try_acquire_watcher("s", "gone.1", 1)
        try:
            assert await alive.try_acquire_session("kept", 2)
            assert not await alive.try_acquire_session("third", 2)
            assert not await alive.try_acquire_watcher("s", "w", 1)
            await asyncio.sleep(1.0)  # two TTLs: the heartbeat keeps "kept" alive
            assert await alive.session_count() == 1
            assert await alive.try_acquire_session("third", 2)
            assert await alive.try_acquire_watcher("s", "w", 1)
        finally:
            await alive.close()
            await dead.redis.aclose()

    run(scenario())


def test_directory_lookup_across_processes(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        kw = {"prefix": prefix, "heartbeat": 0.1, "lease_ttl": 0.5}
        a = Cluster(redis_server.url, **kw)  # type: ignore[arg-type]
        b = Cluster(redis_server.url, **kw)  # type: ignore[arg-type]
        await a.start()
        await b.start()
        try:
            await a.register_session("sid-1", "tok-1")
            entry = await b.lookup_watch_token("tok-1")
            assert entry is not None
            assert (entry.session_id, entry.process, entry.watch_token) == (
                "sid-1",
                a.process_id,
                "tok-1",
            )
            assert await b.lookup_session("sid-1") == entry
            assert await b.lookup_watch_token("nope") is None
            assert await b.lookup_session("nope") is None
            await asyncio.sleep(1.0)  # refreshed by A's heartbeat beyond the TTL
            assert await b.lookup_watch_token("tok-1") == entry
            await a.unregister_session("sid-1")
            assert await b.lookup_watch_token("tok-1") is None
            assert await b.lookup_session("sid-1") is None
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_takeover_is_reported_to_the_old_owner(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        kw = {"prefix": prefix, "heartbeat": 0.1, "lease_ttl": 0.5}
        a = Cluster(redis_server.url, **kw)  # type: ignore[arg-type]
        b = Cluster(redis_server.url, **kw)  # type: ignore[arg-type]
        lost: list[str] = []
        a.on_session_lost = lost.append
        await a.start()
        await b.start()
        try:
            await a.register_session("sid", "tok")
            await b.register_session("sid", "tok")  # the owner resumed on B
            await until(lambda: lost == ["sid"], 3.0)
            await asyncio.sleep(0.3)  # A's heartbeat does not take it back
            entry = await a.lookup_session("sid")
            assert entry is not None and entry.process == b.process_id
            await a.unregister_session("sid")  # a late drop on A leaves B's entry alone
            assert await a.lookup_watch_token("tok") == entry
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_dead_process_vanishes_from_the_directory(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        kw = {"prefix": prefix, "heartbeat": 0.1, "lease_ttl": 0.5}
        dead = Cluster(redis_server.url, **kw)  # type: ignore[arg-type]
        b = Cluster(redis_server.url, **kw)  # type: ignore[arg-type]
        await b.start()
        try:
            await dead.register_session("sid", "tok")  # never heartbeats: it died
            assert await b.lookup_watch_token("tok") is not None
            await asyncio.sleep(0.7)
            assert await b.lookup_watch_token("tok") is None
            assert await b.lookup_session("sid") is None
        finally:
            await b.close()
            await dead.redis.aclose()

    run(scenario())
