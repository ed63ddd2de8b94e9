"""A client's share of sessions (``max_sessions_per_client``) holds across processes: two
real servers sharing one Redis, the attacker on 127.0.0.2 spreading its sockets over both,
everyone else (127.0.0.1) unharmed; and the share's leases on ``Cluster`` itself."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from mlp_playground.cluster.cluster import Cluster
from tests.support.attack import ws_from
from tests.support.cluster import RedisServer, run
from tests.support.servers import ServerProcess, free_port

pytestmark = pytest.mark.timeout(120)


def test_client_share_leases_across_processes(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> None:
        a, b = Cluster(redis_server.url, prefix=prefix), Cluster(redis_server.url, prefix=prefix)
        await a.start()
        await b.start()
        try:
            assert await a.shares.try_acquire("10.0.0.9", "s1", 2)
            assert await b.shares.try_acquire("10.0.0.9", "s2", 2)
            assert not await b.shares.try_acquire("10.0.0.9", "s3", 2)
            # Its class students are a share of their own.
            assert await b.shares.try_acquire("10.0.0.9", "st1", 1, "students")
            assert not await a.shares.try_acquire("10.0.0.9", "st2", 1, "students")
            assert await b.shares.try_acquire("10.0.0.8", "s3", 2)  # a share each
            assert await b.shares.try_acquire("10.0.0.9", "s1", 2)  # moved: same place
            a.shares.forget("10.0.0.9", "s1")  # a let it go to b
            await b.shares.release("10.0.0.9", "s1")
            assert await a.shares.try_acquire("10.0.0.9", "s4", 2)
        finally:
            await a.close()
            await b.close()

    run(scenario())


@pytest.fixture
def pair(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[ServerProcess, ...]]:
    env = {
        "MLPG_REDIS_URL": redis_server.url,
        "MLPG_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        "MLPG_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "MLPG_MAX_SESSIONS_PER_CLIENT": "3",
        "MLPG_SESSION_GRACE_SECONDS": "0",
        "MLPG_ALLOWED_HOSTS": '["127.0.0.1", "localhost"]',
    }
    servers = [ServerProcess(free_port(), env) for _ in range(2)]
    try:
        for server in servers:
            server.start()
        yield tuple(servers)
    finally:
        for server in servers:
            server.stop()


def first(ws: ClientConnection) -> dict:
    return json.loads(ws.recv(timeout=20))


def test_one_address_gets_its_share_over_both_processes(pair) -> None:
    a, b = pair
    with ExitStack() as stack:
        held = []
        for server in (a, a, b):
            ws = stack.enter_context(ws_from("127.0.0.2", server.ws_url + "/ws"))
            assert first(ws)["type"] == "hello"
            held.append(ws)
        for server in (b, a):  # over its share, whichever process it asks
            with ws_from("127.0.0.2", server.ws_url + "/ws") as ws:
                refused = first(ws)
                assert refused["code"] == "too_many_sessions"
                assert "max_sessions_per_client" in refused["message"]
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=10)
                assert ws.close_code == 1013
        for server in (a, b):  # another client is unharmed
            with ws_from("127.0.0.1", server.ws_url + "/ws") as ws:
                assert first(ws)["type"] == "hello"
        held[0].close()  # one place back (no grace period): usable on the other process
        deadline = time.monotonic() + 10
        while True:
            with ws_from("127.0.0.2", b.ws_url + "/ws") as ws:
                if first(ws)["type"] == "hello":
                    break
            assert time.monotonic() < deadline, "the freed place never came back"
            time.sleep(0.2)
