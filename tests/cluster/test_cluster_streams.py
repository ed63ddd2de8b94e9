"""Streams across processes: published once by the owner's process, fanned out elsewhere."""

from __future__ import annotations

import asyncio
import json
import time

from redis.asyncio import Redis

from mlp_playground.cluster.cluster import Cluster
from mlp_playground.cluster.directory import SessionEntry
from mlp_playground.cluster.inbox import LatestWinsInbox, StreamEnded
from mlp_playground.cluster.wire import decode, encode, encode_end, end_fields
from tests.support.cluster import RedisServer, frame, run, until

FAST = {"heartbeat": 0.1, "lease_ttl": 0.5}


async def owner_and_watcher(url: str, prefix: str) -> tuple[Cluster, Cluster, SessionEntry]:
    a = Cluster(url, prefix=prefix, **FAST)  # type: ignore[arg-type]
    b = Cluster(url, prefix=prefix, **FAST)  # type: ignore[arg-type]
    await a.start()
    await b.start()
    await a.register_session("sid", "tok")
    entry = await b.lookup_watch_token("tok")
    assert entry is not None
    return a, b, entry


def test_wire_round_trip() -> None:
    data = frame(7, 100)
    assert decode(encode(data, "frame")) == (b"B", data, "frame", None)
    assert decode(encode('{"type":"x","é":1}', None, "p.1")) == (
        b"T",
        '{"type":"x","é":1}',
        None,
        "p.1",
    )
    assert end_fields(decode(encode_end(1013, "gone"))) == (1013, "gone")


def test_frames_arrive_byte_identical_and_in_order(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b, entry = await owner_and_watcher(redis_server.url, prefix)
        joined: list[tuple[str, str]] = []

        def on_join(sid: str, watcher: str) -> None:  # the owner's catch-up, to one watcher
            joined.append((sid, watcher))
            a.publish(sid, '{"type":"hello"}', None, target=watcher)

        a.on_join = on_join
        try:
            inboxes = [LatestWinsInbox() for _ in range(3)]
            watches = [await b.watch(entry, box, cap=10) for box in inboxes]
            assert all(w is not None for w in watches)
            await until(lambda: len(joined) == 3 and all(x.pending() for x in inboxes))
            sent: list[str | bytes] = []
            for i in range(60):  # frames and text interleaved, none slotted: all must arrive
                payload: str | bytes = frame(i) if i % 3 else json.dumps({"type": "m", "i": i})
                assert a.publish("sid", payload)
                sent.append(payload)
                if i % 10 == 9:
                    await asyncio.sleep(0.01)
            for box in inboxes:
                assert await box.get() == '{"type":"hello"}'  # each got its own catch-up once
                got = [await asyncio.wait_for(box.get(), 5) for _ in sent]
                assert got == sent  # same bytes, same text, same order
                assert box.get_nowait() is None
            # Each message went to Redis once (its reply may be read just after delivery).
            await until(lambda: a.publisher.published >= 60 + 3)
            assert a.publisher.published == 60 + 3
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_one_subscription_per_process(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b, entry = await owner_and_watcher(redis_server.url, prefix)
        c = Cluster(redis_server.url, prefix=prefix, **FAST)  # type: ignore[arg-type]
        await c.start()
        probe = Redis.from_url(redis_server.url)
        try:
            boxes = [LatestWinsInbox() for _ in range(60)]
            for i, box in enumerate(boxes):
                assert await (b if i % 2 else c).watch(entry, box) is not None
            channel = a.keys.frames("sid")
            [(_, subscribers)] = await probe.pubsub_numsub(channel)
            assert subscribers == 2  # one per watching process, not one per watcher
            assert b.subscriber.channels == c.subscriber.channels == 1
            clients = await probe.client_list(_type="pubsub")
            assert len(clients) == 3  # a, b and c: one pub/sub connection each
            a.publish("sid", frame(1), "frame")
            await until(lambda: all(box.received == 1 for box in boxes))
            # The last local watcher leaving unsubscribes the process.
            for w in b.subscriber.watches():
                await b.unwatch(w)
            [(_, subscribers)] = await probe.pubsub_numsub(channel)
            assert subscribers == 1 and b.subscriber.channels == 0
        finally:
            await probe.aclose()
            for cl in (a, b, c):
                await cl.close()

    run(scenario())


def test_slow_watcher_gets_only_the_newest_frame(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b, entry = await owner_and_watcher(redis_server.url, prefix)
        try:
            slow, fast = LatestWinsInbox(), LatestWinsInbox()
            await b.watch(entry, slow)
            await b.watch(entry, fast)
            fast_got: list[bytes] = []

            async def read_fast() -> None:
                while True:
                    fast_got.append(bytes(await fast.get()))

            reader = asyncio.create_task(read_fast())
            for i in range(100):
                a.publish("sid", frame(i, 2000), "frame")
                await asyncio.sleep(0.002)
            # The owner's publisher may itself skip a frame replaced while a round trip was
            # in flight (the same latest-wins rule), but never the newest one.
            await until(lambda: fast_got[-1:] == [frame(99, 2000)])
            await asyncio.sleep(0.05)
            reader.cancel()
            # The slow one never read: one pending frame, the newest; nothing queued behind.
            assert slow.received >= 50
            assert slow.pending() == 1
            assert slow.get_nowait() == frame(99, 2000)
            assert slow.replaced == slow.received - 1
            assert len(fast_got) >= 40  # the fast one was not held back by the slow one
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_owner_end_closes_remote_watchers(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b, entry = await owner_and_watcher(redis_server.url, prefix)
        try:
            box = LatestWinsInbox()
            watch = await b.watch(entry, box, cap=5)
            assert watch is not None
            a.publish("sid", '{"type":"event"}')
            assert a.end_stream("sid", 1000, "session ended")
            assert await asyncio.wait_for(box.get(), 5) == '{"type":"event"}'
            try:
                await asyncio.wait_for(box.get(), 5)
                raise AssertionError("the stream should have ended")
            except StreamEnded as end:
                assert (end.code, end.reason) == (1000, "session ended")
            await b.unwatch(watch)
            assert await b.watcher_count("sid") == 0
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_watchers_learn_the_owner_process_is_gone(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b, entry = await owner_and_watcher(redis_server.url, prefix)
        try:
            box = LatestWinsInbox()
            assert await b.watch(entry, box) is not None
            for task in a._tasks:  # A "dies": no heartbeat, no goodbye
                task.cancel()
            await until(lambda: box.ended is not None, 3.0)
            assert box.ended is not None and box.ended[0] == 1013
        finally:
            await a.redis.aclose()
            await b.close()

    run(scenario())


def test_nobody_watching_costs_no_publish(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b, entry = await owner_and_watcher(redis_server.url, prefix)
        try:
            assert not a.publish("sid", frame(0))  # nobody elsewhere: not even queued
            box = LatestWinsInbox()
            watch = await b.watch(entry, box)
            assert watch is not None
            await until(lambda: a.is_watched_elsewhere("sid"))
            assert a.publish("sid", frame(1))
            await until(lambda: box.received == 1)
            await b.unwatch(watch)
            a.publish("sid", frame(2))  # reaches nobody: interest goes off
            await until(lambda: not a.is_watched_elsewhere("sid"))
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_catch_ups_to_two_watchers_in_one_slot_both_arrive(
    redis_server: RedisServer, prefix: str
) -> None:
    """Two watchers joining at once: each one's slotted ``data`` (published in the same
    loop turn, so queued together) reaches that watcher; neither replaces the other."""

    async def scenario() -> None:
        a, b, entry = await owner_and_watcher(redis_server.url, prefix)
        try:
            boxes = [LatestWinsInbox(), LatestWinsInbox()]
            watches = [await b.watch(entry, box) for box in boxes]
            assert all(w is not None for w in watches)
            await until(lambda: a.is_watched_elsewhere("sid"))
            for i, watch in enumerate(watches):
                assert watch is not None
                a.publish("sid", f'{{"type":"data","i":{i}}}', "@ready", target=watch.id)
            a.publish("sid", frame(1), "frame")
            for i, box in enumerate(boxes):
                assert await asyncio.wait_for(box.get(), 5) == f'{{"type":"data","i":{i}}}'
                assert await asyncio.wait_for(box.get(), 5) == frame(1)
        finally:
            await a.close()
            await b.close()

    run(scenario())


class Recorder:
    """A sink that keeps every message it is given (no latest-wins), to count them."""

    def __init__(self) -> None:
        self.got: list[str | bytes] = []
        self.ended: tuple[int, str] | None = None

    def deliver(self, payload: str | bytes, slot: str | None) -> None:
        self.got.append(payload)

    def end(self, code: int, reason: str) -> None:
        self.ended = (code, reason)


def test_a_busy_owner_loop_still_publishes_a_frame_every_turn(
    redis_server: RedisServer, prefix: str
) -> None:
    """Each turn of a loop kept busy (5 ms, as deflating for many local watchers does) writes
    its frame: the publisher does not wait for Redis's replies before the next write (it did,
    through a pipeline, and then sent about one frame in four)."""

    async def scenario() -> None:
        a, b, entry = await owner_and_watcher(redis_server.url, prefix)
        try:
            sink = Recorder()
            await b.watch(entry, sink)
            a.publish("sid", frame(0, 20000), "frame")  # the publisher's connection is up
            await until(lambda: len(sink.got) == 1)
            sent = [frame(i, 20000) for i in range(1, 41)]
            for payload in sent:
                a.publish("sid", payload, "frame")
                time.sleep(0.005)  # the rest of this turn's work
                await asyncio.sleep(0)
            await until(lambda: sink.got[-1:] == sent[-1:])
            got = sink.got[1:]
            assert got == [p for p in sent if p in got]  # in order, none twice
            assert len(got) >= 36, f"only {len(got)} of 40 frames were published"
        finally:
            await a.close()
            await b.close()

    run(scenario())
