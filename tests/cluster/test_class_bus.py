"""``cluster.class_bus.ClassBus`` against a real redis-server: two buses stand for two
processes. Seats under a cap and exclusive nickname keys over both, freed when released
or when their holder stops refreshing; announcements, ``down`` and ``up`` messages; a
Redis restart, after which the reader subscribes again by itself."""

from __future__ import annotations

import asyncio
import contextlib
import time

from mlp_playground.cluster.class_bus import ROSTER, THUMBNAIL, ClassBus
from mlp_playground.cluster.redis_client import connect
from tests.support.cluster import RedisServer, run, until


def bus(redis: RedisServer, prefix: str, name: str, ttl: float = 6.0) -> ClassBus:
    return ClassBus(
        connect(redis.url, retries=1), connect(redis.url, retries=0), prefix, name,
        heartbeat=0.2, ttl=ttl,
    )  # fmt: skip


async def close(*buses: ClassBus) -> None:
    for b in buses:
        await b.close()
        await b.redis.aclose()
        await b.stream.aclose()


def test_seats_and_names_hold_over_two_buses(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b = bus(redis_server, prefix, "A"), bus(redis_server, prefix, "B")
        a.start()
        b.start()
        try:
            await until(lambda: a.connected and b.connected, 5)
            assert await a.take_seat("K7PX3M", "s1", 2)
            assert await b.take_seat("K7PX3M", "s2", 2)
            assert not await b.take_seat("K7PX3M", "s3", 2)  # the cap counts both
            assert await b.seats_taken("K7PX3M") == 2
            assert await a.claim_name("K7PX3M", "ada")
            assert not await b.claim_name("K7PX3M", "ada")  # one holder per name
            assert await b.claim_name("OTHER2", "ada")  # another class's names are its own
            a.hold("K7PX3M", seats=set(), names=set())  # A's student left: both freed
            await until(lambda: not a._releases, 5)
            assert await b.take_seat("K7PX3M", "s3", 2)
            assert await b.claim_name("K7PX3M", "ada")
        finally:
            await close(a, b)

    run(scenario())


def test_a_holder_that_stops_refreshing_frees_its_places(redis_server, prefix) -> None:
    """A killed process refreshes nothing: its seats and names expire after ``ttl``."""

    async def scenario() -> None:
        a, b = bus(redis_server, prefix, "A", ttl=0.6), bus(redis_server, prefix, "B", ttl=0.6)
        b.start()  # A's tasks never run: it is "dead" once it has taken its places
        try:
            assert await a.take_seat("K7PX3M", "s1", 1) and await a.claim_name("K7PX3M", "ada")
            assert not await b.take_seat("K7PX3M", "s2", 1)
            await asyncio.sleep(1.0)
            assert await b.take_seat("K7PX3M", "s2", 1)
            assert await b.claim_name("K7PX3M", "ada")
            await asyncio.sleep(1.0)  # B's heartbeat keeps what B holds
            assert not await a.take_seat("K7PX3M", "s3", 1)
        finally:
            await close(a, b)

    run(scenario())


def test_messages_cross_and_the_reader_comes_back_after_a_redis_restart(own_redis, prefix):
    async def scenario() -> None:
        a, b = bus(own_redis, prefix, "A"), bus(own_redis, prefix, "B")
        events, downs, ups = [], [], []
        b.on_event = events.append
        b.on_down = lambda code, msg: downs.append((code, msg))
        a.on_up = lambda code, kind, payload: ups.append((code, kind, payload))
        a.start()
        b.start()
        try:
            b.follow("K7PX3M")
            a.watch("K7PX3M")
            await until(lambda: a.connected and b.connected, 5)
            await asyncio.sleep(0.5)  # the new subscriptions are made between two reads
            a.announce({"type": "opened", "class": "K7PX3M"})
            a.send_down("K7PX3M", {"type": "want"})
            for i in range(5):  # one slot: only the newest of these needs to arrive
                b.send_up("K7PX3M", THUMBNAIL, b"frame %d" % i, slot="s1")
            b.send_up("K7PX3M", ROSTER, b"{}")
            await until(lambda: events and downs and len(ups) >= 2, 5)
            assert events == [{"type": "opened", "class": "K7PX3M"}]
            assert downs == [("K7PX3M", {"type": "want"})]
            assert ("K7PX3M", THUMBNAIL, b"frame 4") in ups and ("K7PX3M", ROSTER, b"{}") in ups
            own_redis.kill()
            await until(lambda: not a.connected and not b.connected, 8)
            b.send_up("K7PX3M", ROSTER, b"lost")  # dropped at once: nobody could hear it
            own_redis.start()
            await until(lambda: a.connected and b.connected, 10)
            ups.clear()
            b.send_up("K7PX3M", ROSTER, b"again")
            await until(lambda: ups, 5)
            assert ups == [("K7PX3M", ROSTER, b"again")]
        finally:
            await close(a, b)

    run(scenario())


def test_the_class_bus_closes_while_redis_is_down(own_redis: RedisServer, prefix: str) -> None:
    """A worker's shutdown once waited here forever: its reader, reconnecting to a Redis
    that was gone, had lost its cancellation (a ``wait_for`` racing its timeout swallows
    it in CPython 3.11). The close cancels again until every task has ended."""
    own = own_redis

    async def scenario() -> None:
        redis, stream = connect(own.url, retries=1), connect(own.url, retries=0)
        bus = ClassBus(redis, stream, prefix, "p1")
        bus.start()
        bus.follow("ABCD")
        await until(lambda: bus.available, 5.0)
        own.kill()
        await until(lambda: not bus.available, 5.0)
        await asyncio.sleep(1.0)  # the reader is in its reconnect loop now
        # The reader again, but losing its first cancellation, as the race does.
        bus._tasks[0].cancel()

        async def unlucky_reader() -> None:
            with contextlib.suppress(asyncio.CancelledError):  # swallowed once
                await bus._read_forever()
            await bus._read_forever()

        bus._tasks[0] = asyncio.create_task(unlucky_reader())
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        await asyncio.wait_for(bus.close(), 10.0)
        assert time.monotonic() - t0 < 6.0
        assert all(t.done() for t in bus._tasks)
        await redis.aclose()
        await stream.aclose()

    run(scenario())
