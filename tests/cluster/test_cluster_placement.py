"""``mlp-playground --workers 2`` places sessions by load and survives a worker's death
(docs/design.md, "Several processes"; server/mlp_playground/worker_pool.py).

A new session goes to the worker with the fewest sessions, whatever order the connections
arrive in; a worker killed with SIGKILL under load loses no session for good: its owners
resume on the other worker from their snapshots while the other sessions keep streaming,
the supervisor starts a new worker in its place, and the survivor's surplus moves to it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import RedisServer, run, until
from tests.support.fleet import Owner, open_owner, pid_of, processes, worker_pids
from tests.support.servers import ServerProcess, free_port

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def pool(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    """``--workers 2`` on one port, sharing a Redis prefix and an SQLite file; both workers
    answering before the test starts. Yields the server and its Redis prefix."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    env = {
        "MLPG_REDIS_URL": redis_server.url,
        "MLPG_REDIS_PREFIX": prefix,
        "MLPG_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "MLPG_SNAPSHOT_INTERVAL_SECONDS": "0.5",
        # Closed sessions go soon, but not at once: with 0, a new session can be reaped
        # before its owner is attached (it waits for the class registry's store lookup).
        "MLPG_SESSION_GRACE_SECONDS": "2",
        "MLPG_MAX_SESSIONS_PER_CLIENT": "64",  # every socket comes from 127.0.0.1
    }
    server = ServerProcess(free_port(), env, args=("--workers", "2"))
    server.start(timeout=60)
    try:
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        while len(seen) < 2:  # anything but an owner's /ws goes round-robin
            seen.add(httpx.get(server.url + "/healthz", timeout=5).json()["process"])
            assert time.monotonic() < deadline, seen
        yield server, prefix
    finally:
        server.stop()


def _where(redis_server: RedisServer, prefix: str, owners: list[Owner]) -> dict[str, str]:
    return processes(redis_server.url, prefix, [o.id for o in owners])


def test_a_new_session_goes_to_the_worker_with_the_fewest_sessions(pool, redis_server):
    server, prefix = pool

    async def scenario() -> None:
        first = [await open_owner(server.ws_url) for _ in range(8)]
        where = _where(redis_server, prefix, first)
        counts = Counter(where.values())
        assert sorted(counts.values()) == [4, 4], counts
        emptied = next(iter(counts))
        for owner in first:
            if where[owner.id] == emptied:
                await owner.close()
        kept = [o for o in first if where[o.id] != emptied]
        await until(lambda: len(_where(redis_server, prefix, first)) == len(kept), 10)
        await asyncio.sleep(0.3)  # the emptied worker's count reaches the supervisor
        # Four new sessions: all of them on the emptied worker (not by accept order)...
        later = [await open_owner(server.ws_url) for _ in range(4)]
        assert set(_where(redis_server, prefix, later).values()) == {emptied}
        # ...and from 4 and 4 again, one on each.
        last = [await open_owner(server.ws_url) for _ in range(2)]
        assert len(set(_where(redis_server, prefix, last).values())) == 2
        for owner in [*kept, *later, *last]:
            await owner.close()

    run(scenario(), timeout=90)


def test_a_worker_killed_under_load_its_sessions_resume_on_the_other(pool, redis_server):
    server, prefix = pool
    assert server.proc is not None
    supervisor = server.proc.pid

    async def scenario() -> str:
        owners = [await open_owner(server.ws_url, page=True) for _ in range(8)]
        # Every session trains and streams, and has had time for a few snapshots.
        await until(lambda: all(o.frames and o.frames[-1][1] > 20 for o in owners), 30)
        await asyncio.sleep(1.5)
        where = _where(redis_server, prefix, owners)
        victim = where[owners[0].id]
        assert pid_of(victim) in worker_pids(supervisor)
        hit = [o for o in owners if where[o.id] == victim]
        spared = [o for o in owners if where[o.id] != victim]
        assert hit and spared, where
        killed_at = time.monotonic()
        before = {o.id: o.last_step_before(killed_at) for o in hit}
        rates = {o.id: o.rate(killed_at - 2.0, killed_at) for o in hit}
        os.kill(pid_of(victim), signal.SIGKILL)

        await until(lambda: all(o.resumed_at is not None for o in hit), 30)
        await asyncio.sleep(2.0)  # streaming again, and still streaming on the others
        end = time.monotonic()
        moved = _where(redis_server, prefix, hit)
        for o in hit:
            assert o.resumed_at is not None and o.resumed_step is not None
            assert o.resumed_at - killed_at < 10.0, "resumed too late"
            assert moved.get(o.id) not in (None, victim), "not held by a live worker"
            assert o.resumed_step > 0, "resumed from nothing: no snapshot was read"
            lost = max(0, before[o.id] - o.resumed_step) / max(rates[o.id], 1.0)
            assert lost < 5.0, f"{lost:.1f} s of training lost"
            assert any(s > o.resumed_step for at, s in o.frames if at > o.resumed_at)
        for o in spared:  # (later, some may be asked to move to the new worker)
            assert o.dropped_at is None or o.dropped_at > end, "a surviving session was cut"
            assert o.max_gap(killed_at, end) < 3.0, "a surviving session's frames stalled"
        # The replacement worker is ready: the survivor's surplus moves to it.
        spread = lambda: sorted(Counter(_where(redis_server, prefix, owners).values()).values())  # noqa: E731
        await until(lambda: spread() == [4, 4], 45, interval=0.2)
        moved_at = time.monotonic()
        await asyncio.sleep(1.5)
        for o in owners:
            assert any(at > moved_at for at, _ in o.frames), "a session stopped streaming"
            await o.close()
        return victim

    victim = run(scenario(), timeout=120)
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while len(seen) < 2:  # the supervisor replaced the dead worker: two answer again
        process = httpx.get(server.url + "/healthz", timeout=5).json()["process"]
        assert process != victim
        seen.add(process)
        assert time.monotonic() < deadline, seen
    assert pid_of(victim) not in worker_pids(supervisor)
    assert len(worker_pids(supervisor)) == 2
