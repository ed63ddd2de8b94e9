"""Model documents across processes: written by the owner only while another process
wants them, at most about a second stale then, never stale after a pause in the reads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from mlp_playground.cluster import models
from mlp_playground.cluster.cluster import Cluster
from mlp_playground.cluster.errors import ClusterUnavailable
from tests.support.cluster import RedisServer, run, until

FAST = {"heartbeat": 0.1, "lease_ttl": 0.5}


@contextlib.asynccontextmanager
async def owner_and_reader(
    url: str, prefix: str
) -> AsyncIterator[tuple[Cluster, Cluster, list[str]]]:
    """``a`` owns "sid" and, asked for its document, offers the newest one from a thread
    (as the live layer's worker does); ``b`` reads. The list records a's requests."""
    a = Cluster(url, prefix=prefix, **FAST)  # type: ignore[arg-type]
    b = Cluster(url, prefix=prefix, **FAST)  # type: ignore[arg-type]
    await a.start()
    await b.start()
    asked: list[str] = []
    loop = asyncio.get_running_loop()

    def offer_now(sid: str) -> None:
        asked.append(sid)
        doc = json.dumps({"t": loop.time(), "asked": True})
        loop.run_in_executor(None, a.offer_model, sid, doc)

    a.on_model_wanted = offer_now
    try:
        await a.register_session("sid", "tok")
        yield a, b, asked
    finally:
        await a.close()
        await b.close()


@contextlib.asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[Redis]:
    """A plain client, to look at the keys themselves."""
    raw = Redis.from_url(url)
    try:
        yield raw
    finally:
        await raw.aclose()


def test_nothing_is_written_while_no_other_process_reads_the_model(
    redis_server: RedisServer, prefix: str
) -> None:
    async def scenario() -> None:
        async with (
            owner_and_reader(redis_server.url, prefix) as (a, b, asked),
            redis_client(redis_server.url) as raw,
        ):
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

    run(scenario())


def test_a_first_read_asks_the_owner_and_gets_its_document_at_once(
    redis_server: RedisServer, prefix: str
) -> None:
    async def scenario() -> None:
        async with (
            owner_and_reader(redis_server.url, prefix) as (_, b, asked),
            redis_client(redis_server.url) as raw,
        ):
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            found = await b.read_model("sid")
            assert found is not None and json.loads(found)["asked"] is True
            assert loop.time() - t0 < 0.5, "the owner was not woken for the first document"
            assert asked == ["sid"]
            # A session that no live process holds has no document, nobody waits, and a
            # guessed id leaves no key behind.
            t0 = loop.time()
            assert await b.read_model("no-such-session") is None
            assert loop.time() - t0 < 0.5
            assert await raw.exists(b.keys.model_wanted("no-such-session")) == 0
            assert await raw.exists(b.keys.model_wanted("sid")) == 1

    run(scenario())


def test_a_session_whose_process_is_gone_answers_none_at_once(
    redis_server: RedisServer, prefix: str
) -> None:
    async def scenario() -> None:
        b = Cluster(redis_server.url, prefix=prefix, **FAST)  # type: ignore[arg-type]
        await b.start()
        try:
            async with redis_client(redis_server.url) as raw:
                # An entry left by a process that died a moment ago (its TTL not yet over).
                await raw.hset(b.keys.session("ghost"), mapping={"process": "dead-1"})
            t0 = time.monotonic()
            assert await b.read_model("ghost") is None
            assert time.monotonic() - t0 < 0.5
        finally:
            await b.close()

    run(scenario())


def test_a_wanted_model_is_at_most_about_a_second_stale(
    redis_server: RedisServer, prefix: str
) -> None:
    async def scenario() -> None:
        async with owner_and_reader(redis_server.url, prefix) as (a, b, _):
            loop = asyncio.get_running_loop()
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

    run(scenario())


def test_once_nobody_reads_the_owner_stops_and_a_later_read_is_not_stale(
    redis_server: RedisServer, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "WANTED_SECONDS", 0.6)

    async def scenario() -> None:
        async with owner_and_reader(redis_server.url, prefix) as (a, b, asked):
            loop = asyncio.get_running_loop()
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

    run(scenario())


def test_many_readers_at_once_make_the_owner_build_one_document(
    redis_server: RedisServer, prefix: str
) -> None:
    """Every reader that finds no document asks; a large net's document costs the owner's
    training thread a quarter of a second, so it builds one a second at most."""

    async def scenario() -> None:
        async with owner_and_reader(redis_server.url, prefix) as (_, b, asked):
            docs = await asyncio.gather(*(b.read_model("sid") for _ in range(50)))
            assert all(d is not None for d in docs)
            assert asked == ["sid"], len(asked)

    run(scenario())


def test_an_owner_that_sends_nothing_in_time_is_unavailable_not_unknown(
    redis_server: RedisServer, prefix: str
) -> None:
    """A busy owner (or one handing the session over) is worth a retry: the read says so
    (ClusterUnavailable: REST answers 503, a remote watcher gets ``unavailable``) within
    its own deadline, instead of None, which would make the live session "unknown"."""

    async def scenario() -> None:
        async with owner_and_reader(redis_server.url, prefix) as (a, b, asked):
            a.on_model_wanted = asked.append  # heard, but no document comes
            t0 = time.monotonic()
            with pytest.raises(ClusterUnavailable, match="in time"):
                await b.read_model("sid")
            assert models.FIRST_READ_SECONDS <= time.monotonic() - t0 < 2.6
            assert asked == ["sid"]

    run(scenario())


def test_a_heartbeat_answered_after_the_session_was_dropped_does_not_want_it_again(
    redis_server: RedisServer, prefix: str
) -> None:
    """The heartbeat's claims are queued, then answered after a round trip: a session
    dropped here in between is still claimed (and marked wanted) in that answer."""

    async def scenario() -> None:
        async with owner_and_reader(redis_server.url, prefix) as (a, b, _):
            assert await b.read_model("sid") is not None  # the mark is set in Redis
            queue_claims = a.directory.refresh_into

            async def dropped_meanwhile(pipe: object) -> list[str]:
                ids = await queue_claims(pipe)
                a.directory.owned.pop("sid")  # what unregister_session does first
                a.models.forget("sid")
                return ids

            a.directory.refresh_into = dropped_meanwhile  # type: ignore[method-assign]
            await a.refresh()
            assert not a.models.wanted("sid")

    run(scenario())
