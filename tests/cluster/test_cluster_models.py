"""Model documents across processes: written by the owner only while another process
wants them, at most about a second stale then, never stale after a pause in the reads."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from redis.asyncio import Redis

from mlp_playground.cluster import models
from mlp_playground.cluster.cluster import Cluster
from mlp_playground.cluster.errors import ClusterUnavailable
from tests.support.cluster import RedisServer, run, until

FAST = {"heartbeat": 0.1, "lease_ttl": 0.5}


async def owner_and_reader(url: str, prefix: str) -> tuple[Cluster, Cluster, list[str]]:
    """``a`` owns "sid" and, asked for its document, offers the newest one from a thread
    (as the live layer's worker does); ``b`` reads. The list records a's requests."""
    a = Cluster(url, prefix=prefix, **FAST)  # type: ignore[arg-type]
    b = Cluster(url, prefix=prefix, **FAST)  # type: ignore[arg-type]
    await a.start()
    await b.start()
    await a.register_session("sid", "tok")
    asked: list[str] = []
    loop = asyncio.get_running_loop()

    def offer_now(sid: str) -> None:
        asked.append(sid)
        doc = json.dumps({"t": loop.time(), "asked": True})
        loop.run_in_executor(None, a.offer_model, sid, doc)

    a.on_model_wanted = offer_now
    return a, b, asked


def test_nothing_is_written_while_no_other_process_reads_the_model(
    redis_server: RedisServer, prefix: str
) -> None:
    async def scenario() -> None:
        a, b, asked = await owner_and_reader(redis_server.url, prefix)
        raw = Redis.from_url(redis_server.url)
        try:
            for step in range(20):
                assert not a.model_due("sid")  # so the live layer builds no document
                await asyncio.to_thread(a.offer_model, "sid", json.dumps({"step": step}))
                await asyncio.sleep(0.05)
            assert a.models.writes == 0 and asked == []
            assert await raw.exists(a.keys.model("sid")) == 0
            # One read from elsewhere, and the owner writes from then on.
            assert await b.read_model("sid") is not None
            assert asked == ["sid"] and a.model_due("sid") is False  # just written
            await until(lambda: a.model_due("sid"), 2.0)
        finally:
            await raw.aclose()
            await a.close()
            await b.close()

    run(scenario())


def test_a_first_read_asks_the_owner_and_gets_its_document_at_once(
    redis_server: RedisServer, prefix: str
) -> None:
    async def scenario() -> None:
        a, b, asked = await owner_and_reader(redis_server.url, prefix)
        loop = asyncio.get_running_loop()
        try:
            t0 = loop.time()
            raw = await b.read_model("sid")
            assert raw is not None and json.loads(raw)["asked"] is True
            assert loop.time() - t0 < 0.5, "the owner was not woken for the first document"
            assert asked == ["sid"]
            # A session that no live process holds has no document, nobody waits, and a
            # guessed id leaves no key behind.
            t0 = loop.time()
            assert await b.read_model("no-such-session") is None
            assert loop.time() - t0 < 0.5
            raw = Redis.from_url(redis_server.url)
            try:
                assert await raw.exists(b.keys.model_wanted("no-such-session")) == 0
                assert await raw.exists(b.keys.model_wanted("sid")) == 1
            finally:
                await raw.aclose()
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_a_session_whose_process_is_gone_answers_none_at_once(
    redis_server: RedisServer, prefix: str
) -> None:
    async def scenario() -> None:
        b = Cluster(redis_server.url, prefix=prefix, **FAST)  # type: ignore[arg-type]
        await b.start()
        raw = Redis.from_url(redis_server.url)
        try:  # an entry left by a process that died a moment ago (its TTL not yet over)
            await raw.hset(b.keys.session("ghost"), mapping={"process": "dead-1"})
            t0 = time.monotonic()
            assert await b.read_model("ghost") is None
            assert time.monotonic() - t0 < 0.5
        finally:
            await raw.aclose()
            await b.close()

    run(scenario())


def test_a_wanted_model_is_at_most_about_a_second_stale(
    redis_server: RedisServer, prefix: str
) -> None:
    async def scenario() -> None:
        a, b, _ = await owner_and_reader(redis_server.url, prefix)
        loop = asyncio.get_running_loop()
        try:
            assert await b.read_model("sid") is not None  # wanted from now on
            writes, worst, start = a.models.writes, 0.0, loop.time()
            while loop.time() - start < 3.0:
                # The live layer offers from its worker thread: run it in a thread here too.
                doc = json.dumps({"t": loop.time()})
                await asyncio.to_thread(a.offer_model, "sid", doc)
                raw = await b.read_model("sid")
                assert raw is not None
                worst = max(worst, loop.time() - json.loads(raw)["t"])
                await asyncio.sleep(0.05)
            assert 0.5 < worst <= 1.3, worst
            assert a.models.writes - writes <= 4  # at most one write a second (3 s of offers)
            await a.unregister_session("sid")
            assert await b.read_model("sid") is None
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_once_nobody_reads_the_owner_stops_and_a_later_read_is_not_stale(
    redis_server: RedisServer, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "WANTED_SECONDS", 0.6)

    async def scenario() -> None:
        a, b, asked = await owner_and_reader(redis_server.url, prefix)
        loop = asyncio.get_running_loop()
        try:
            assert await b.read_model("sid") is not None
            start = loop.time()
            while loop.time() - start < 2.5:  # training goes on; nobody reads
                await asyncio.to_thread(a.offer_model, "sid", json.dumps({"t": loop.time()}))
                await asyncio.sleep(0.05)
            assert not a.models.wanted("sid")
            stopped = a.models.writes
            await asyncio.sleep(1.2)
            assert a.models.writes == stopped, "documents nobody wants are still written"
            before = loop.time()
            raw = await b.read_model("sid")
            assert raw is not None
            doc = json.loads(raw)
            assert doc["t"] >= before and doc.get("asked"), "a stale document was served"
            assert asked == ["sid", "sid"]
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_many_readers_at_once_make_the_owner_build_one_document(
    redis_server: RedisServer, prefix: str
) -> None:
    """Every reader that finds no document asks; a large net's document costs the owner's
    training thread a quarter of a second, so it builds one a second at most."""

    async def scenario() -> None:
        a, b, asked = await owner_and_reader(redis_server.url, prefix)
        try:
            docs = await asyncio.gather(*(b.read_model("sid") for _ in range(50)))
            assert all(d is not None for d in docs)
            assert asked == ["sid"], len(asked)
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_an_owner_that_sends_nothing_in_time_is_unavailable_not_unknown(
    redis_server: RedisServer, prefix: str
) -> None:
    """A busy owner (or one handing the session over) is worth a retry: the read says so
    (ClusterUnavailable: REST answers 503, a remote watcher gets ``unavailable``) within
    its own deadline, instead of None, which would make the live session "unknown"."""

    async def scenario() -> None:
        a, b, asked = await owner_and_reader(redis_server.url, prefix)
        a.on_model_wanted = asked.append  # heard, but no document comes
        try:
            t0 = time.monotonic()
            with pytest.raises(ClusterUnavailable, match="in time"):
                await b.read_model("sid")
            assert models.FIRST_READ_SECONDS <= time.monotonic() - t0 < 2.6
            assert asked == ["sid"]
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_a_session_dropped_here_is_not_wanted_again_by_a_late_request(
    redis_server: RedisServer, prefix: str
) -> None:
    async def scenario() -> None:
        a, b, asked = await owner_and_reader(redis_server.url, prefix)
        try:
            assert await b.read_model("sid") is not None
            await a.unregister_session("sid")
            a._on_control({"type": "model", "session": "sid"})  # a request already on its way
            await a.refresh()
            assert not a.models.wanted("sid") and asked == ["sid"]
            await asyncio.to_thread(a.offer_model, "sid", "{}")
            assert a.models._pending == {}
        finally:
            await a.close()
            await b.close()

    run(scenario())
