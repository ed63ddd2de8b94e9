"""A Redis outage: calls fail fast, remote watchers are interrupted, everything recovers."""

from __future__ import annotations

import asyncio
import time

import pytest

from mlp_playground.cluster.cluster import Cluster
from mlp_playground.cluster.errors import ClusterUnavailable
from mlp_playground.cluster.inbox import LatestWinsInbox
from tests.support.cluster import RedisServer, frame, run, until

FAST = {"heartbeat": 0.2, "lease_ttl": 1.0}


async def fails_fast(what: str, aw: object) -> float:
    """Seconds until ``aw`` raised ClusterUnavailable (fails the test if it did not)."""
    t0 = time.monotonic()
    with pytest.raises(ClusterUnavailable):
        await aw  # type: ignore[misc]
    took = time.monotonic() - t0
    assert took < 2.0, f"{what} took {took:.2f} s to fail"
    return took


def test_outage_fails_fast_interrupts_and_recovers(own_redis: RedisServer) -> None:
    async def scenario() -> None:
        a = Cluster(own_redis.url, prefix="o", **FAST)  # type: ignore[arg-type]
        b = Cluster(own_redis.url, prefix="o", **FAST)  # type: ignore[arg-type]
        states: list[bool] = []
        await a.start()
        await b.start()
        b.subscriber.on_state = states.append
        try:
            assert await a.try_acquire_session("sid", 10)
            await a.register_session("sid", "tok")
            entry = await b.lookup_watch_token("tok")
            assert entry is not None
            box = LatestWinsInbox()
            assert await b.watch(entry, box, cap=10) is not None
            await until(lambda: a.is_watched_elsewhere("sid"))
            a.publish("sid", frame(1), "frame")
            assert await asyncio.wait_for(box.get(), 5) == frame(1)

            own_redis.kill()
            # Every call fails within ~2 s with the one exception type, never hangs.
            await fails_fast("acquire", b.try_acquire_session("x", 10))
            await fails_fast("lookup", b.lookup_watch_token("tok"))
            await fails_fast("model read", b.read_model("sid"))
            await fails_fast("watch", b.watch(entry, LatestWinsInbox()))
            # The owner's side never waits: publish and offer return at once.
            frames = [frame(i) for i in range(100)]
            t0 = time.monotonic()
            for f in frames:
                a.publish("sid", f, "frame")
                a.offer_model("sid", "{}")
            assert time.monotonic() - t0 < 0.1
            # The remote watcher is told its stream is interrupted (1013: retry later).
            await until(lambda: box.ended is not None, 5.0)
            assert box.ended is not None and box.ended[0] == 1013
            assert states[-1:] == [False]
            await until(lambda: not a.available and not b.available, 3.0)

            own_redis.start()  # same port, empty (no persistence)
            await until(lambda: a.available and b.available, 10.0)
            assert states[-1:] == [True]
            # A's next heartbeat puts its leases and directory entries back in the empty Redis.
            deadline = time.monotonic() + 3.0
            while await b.lookup_watch_token("tok") != entry:
                assert time.monotonic() < deadline, "directory not restored by the heartbeat"
                await asyncio.sleep(0.05)
            assert await b.session_count() == 1
            # A new watcher gets the stream again.
            box2 = LatestWinsInbox()
            assert await b.watch(entry, box2, cap=10) is not None
            await until(lambda: a.is_watched_elsewhere("sid"))
            for i in range(5):
                a.publish("sid", frame(100 + i))
            got = [await asyncio.wait_for(box2.get(), 5) for _ in range(5)]
            assert got == [frame(100 + i) for i in range(5)]
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_hung_redis_fails_fast(own_redis: RedisServer) -> None:
    """A Redis that accepts but never answers (SIGSTOP) times out instead of hanging."""
    import signal

    async def scenario() -> None:
        a = Cluster(own_redis.url, prefix="h", **FAST)  # type: ignore[arg-type]
        await a.start()
        assert own_redis.proc is not None
        own_redis.proc.send_signal(signal.SIGSTOP)
        try:
            await fails_fast("acquire", a.try_acquire_session("x", 10))
            await fails_fast("lookup", a.lookup_session("x"))
        finally:
            own_redis.proc.send_signal(signal.SIGCONT)
            await a.close()

    run(scenario(), timeout=20)


def test_a_hung_redis_never_holds_up_publish_and_the_stream_resumes(
    own_redis: RedisServer,
) -> None:
    """While Redis is stopped (SIGSTOP) ``publish`` returns at once; the publisher drops its
    unanswered connection and, once Redis runs again, writes on a fresh one, in order."""
    import signal

    async def scenario() -> None:
        # Leases outlive the stop: the owner is not declared gone (that ends the stream).
        a = Cluster(own_redis.url, prefix="p", heartbeat=0.2, lease_ttl=6.0)
        b = Cluster(own_redis.url, prefix="p", heartbeat=0.2, lease_ttl=6.0)
        await a.start()
        await b.start()
        await a.register_session("sid", "tok")
        entry = await b.lookup_watch_token("tok")
        assert entry is not None
        got: list[bytes] = []

        class Sink:
            def __init__(self, into: list[bytes]) -> None:
                self.into = into

            def deliver(self, payload: str | bytes, slot: str | None) -> None:
                self.into.append(bytes(payload) if isinstance(payload, bytes) else b"")

            def end(self, code: int, reason: str) -> None:
                self.into.append(b"end")

        await b.watch(entry, Sink(got))
        a.publish("sid", frame(0), "frame")
        await until(lambda: got == [frame(0)])
        assert own_redis.proc is not None
        own_redis.proc.send_signal(signal.SIGSTOP)
        try:
            slowest = 0.0
            for i in range(1, 21):  # 2 s of frames into a Redis that does not answer
                t0 = time.monotonic()
                a.publish("sid", frame(i), "frame")
                slowest = max(slowest, time.monotonic() - t0)
                await asyncio.sleep(0.1)
            assert slowest < 0.01, f"publish took {slowest * 1000:.1f} ms"
        finally:
            own_redis.proc.send_signal(signal.SIGCONT)
        try:
            assert a.publisher.dropped > 0  # the unanswered ones were given up
            # The watcher's own process may have given up on the stop too (its ping timed
            # out: 1013); a watcher that (re)joins once Redis answers must get the stream.
            await until(lambda: b.subscriber.connected.is_set(), timeout=10)
            rejoined: list[bytes] = []
            await b.watch(entry, Sink(rejoined))
            await asyncio.sleep(0.6)  # past the publisher's retry pause
            after = [frame(100 + i) for i in range(5)]
            for payload in after:
                a.publish("sid", payload)  # unslotted: every one must arrive
            await until(lambda: after[-1] in rejoined, timeout=5)
            assert [f for f in rejoined if f in after] == after  # all, in order, none twice
        finally:
            await a.close()
            await b.close()

    run(scenario(), timeout=30)
